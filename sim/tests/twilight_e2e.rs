//! A twilight shard and twilight-http client run a small bot against the simulator.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use twilight_gateway::{ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt};
use twilight_model::application::command::CommandType;
use twilight_model::application::interaction::InteractionData;
use twilight_model::http::interaction::{InteractionResponse, InteractionResponseType};
use twilight_model::id::Id;
use twilight_util_free::*;

mod twilight_util_free {
    //! Builds a command definition without twilight-util.
    pub use twilight_model::application::command::{Command, CommandOption, CommandOptionType};
}

fn intents() -> Intents {
    Intents::GUILDS
        | Intents::GUILD_MEMBERS
        | Intents::GUILD_MODERATION
        | Intents::GUILD_MESSAGES
        | Intents::MESSAGE_CONTENT
}

#[tokio::test]
async fn twilight_bot_connects_gets_guilds_and_answers_an_interaction() {
    let sim = sim(30).await;
    let http = twilight_http(&sim);

    let gw = http
        .gateway()
        .authed()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(gw.shards, 1);
    assert_eq!(gw.url, sim.gateway_url());

    let config = ConfigBuilder::new(TOKEN.to_owned(), intents())
        .proxy_url(sim.gateway_url())
        .build();
    let mut shard = Shard::with_config(ShardId::ONE, config);

    let mut guilds = 0;
    let mut ready = false;
    while guilds < 30 {
        let ev = tokio::time::timeout(
            Duration::from_secs(10),
            shard.next_event(EventTypeFlags::all()),
        )
        .await
        .expect("events keep coming")
        .expect("stream open")
        .expect("event decodes");
        match ev {
            Event::Ready(r) => {
                assert_eq!(r.guilds.len(), 30);
                assert_eq!(r.resume_gateway_url, sim.gateway_url());
                assert_eq!(r.application.id.get(), sim.bot_id());
                ready = true;
            }
            Event::GuildCreate(g) => {
                assert!(ready, "READY comes first");
                guilds += 1;
                let twilight_model::gateway::payload::incoming::GuildCreate::Available(g) = *g
                else {
                    panic!("guild unavailable");
                };
                assert!(
                    g.channels
                        .iter()
                        .any(|c| c.name.as_deref() == Some("mod-log"))
                );
            }
            // twilight reconnects on its own after most closes; here any close is a failure.
            Event::GatewayClose(frame) => panic!("the gateway closed the connection: {frame:?}"),
            _ => {}
        }
    }

    let app_id = Id::new(sim.bot_id());
    let app = http
        .current_user_application()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(app.id, app_id);
    let cmd = Command {
        application_id: None,
        contexts: None,
        default_member_permissions: None,
        #[allow(deprecated)]
        dm_permission: None,
        description: "Ban a user".into(),
        description_localizations: None,
        guild_id: None,
        id: None,
        integration_types: None,
        kind: CommandType::ChatInput,
        name: "ban".into(),
        name_localizations: None,
        nsfw: None,
        options: vec![CommandOption {
            autocomplete: None,
            channel_types: None,
            choices: None,
            description: "Who".into(),
            description_localizations: None,
            file_types: None,
            kind: CommandOptionType::User,
            max_length: None,
            max_value: None,
            min_length: None,
            min_value: None,
            name: "user".into(),
            name_localizations: None,
            options: None,
            required: Some(true),
        }],
        version: Id::new(1),
    };
    let set = http
        .interaction(app_id)
        .set_global_commands(&[cmd])
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(set.len(), 1);
    assert!(set[0].id.is_some());

    let guilds_ctl = ctl(&sim, "GET", "/guilds?limit=1", None).await.body;
    let g = &guilds_ctl[0];
    let channel = g["channels"][1]["id"].as_str().unwrap().to_owned();
    let user = g["member_ids"][3].as_str().unwrap().to_owned();
    let target = g["member_ids"][4].as_str().unwrap().to_owned();
    let created = ctl(
        &sim,
        "POST",
        "/interactions",
        Some(&json!({"guild_id": g["id"], "channel_id": channel, "user_id": user, "name": "ban", "options": {"user": target}})),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let iid = created.body["id"].as_str().unwrap().to_owned();

    let interaction = loop {
        let ev = tokio::time::timeout(
            Duration::from_secs(10),
            shard.next_event(EventTypeFlags::all()),
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
        if let Event::InteractionCreate(i) = ev {
            break i.0;
        }
    };
    assert_eq!(interaction.id.to_string(), iid);
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        panic!("command data");
    };
    assert_eq!(data.name, "ban");
    assert_eq!(data.options[0].name, "user");
    let resolved = data.resolved.as_ref().expect("resolved");
    assert!(resolved.users.keys().any(|k| k.to_string() == target));

    http.interaction(app_id)
        .create_response(
            interaction.id,
            &interaction.token,
            &InteractionResponse {
                kind: InteractionResponseType::ChannelMessageWithSource,
                data: Some(twilight_model::http::interaction::InteractionResponseData {
                    content: Some("done".into()),
                    ..Default::default()
                }),
            },
        )
        .await
        .unwrap();
    let orig = http
        .interaction(app_id)
        .response(&interaction.token)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(orig.content, "done");

    let result = ctl(&sim, "GET", &format!("/interactions/{iid}"), None)
        .await
        .body;
    assert_eq!(result["acknowledged"], true);
    assert_eq!(result["response"]["data"]["content"], "done");

    // A second response is refused with 40060.
    let again = http
        .interaction(app_id)
        .create_response(
            interaction.id,
            &interaction.token,
            &InteractionResponse {
                kind: InteractionResponseType::DeferredChannelMessageWithSource,
                data: None,
            },
        )
        .await;
    let err = again.unwrap_err();
    match err.kind() {
        twilight_http::error::ErrorType::Response { error, status, .. } => {
            assert_eq!(status.get(), 400);
            let twilight_http::api_error::ApiError::General(g) = error else {
                panic!("{error:?}")
            };
            assert_eq!(g.code, 40060);
        }
        other => panic!("{other:?}"),
    }

    // The bot's reply shows up as a MESSAGE_CREATE on the shard.
    let msg = loop {
        let ev = tokio::time::timeout(
            Duration::from_secs(10),
            shard.next_event(EventTypeFlags::all()),
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
        if let Event::MessageCreate(m) = ev {
            break m;
        }
    };
    assert_eq!(msg.content, "done");
    assert_eq!(msg.author.id.get(), sim.bot_id());

    let stats = sim.stats();
    assert_eq!(stats.stats.identifies.len(), 1);
    assert_eq!(stats.guilds_delivered, 30);
    assert_eq!(stats.guilds_delivered_more_than_once, 0);
    sim.shutdown().await;
}
