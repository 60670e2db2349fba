//! Tests of the guild cache.

use serde_json::{Value, json};
use twilight_model::gateway::event::Event;
use twilight_model::gateway::payload::incoming::{
    GuildCreate, GuildDelete, GuildUpdate, MemberAdd, MemberChunk, MemberRemove, MemberUpdate,
    Ready, RoleCreate, RoleDelete, RoleUpdate,
};
use twilight_model::guild::{Guild, PartialGuild, Permissions};

use super::GuildCache;

const G: u64 = 1_000;
const OWNER: u64 = 10;
const BOT: u64 = 11;

fn role(id: u64, position: i64, perms: Permissions) -> Value {
    json!({
        "id": id.to_string(), "name": format!("r{id}"), "description": null,
        "color": 0, "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false, "icon": null, "unicode_emoji": null, "position": position,
        "permissions": perms.bits().to_string(), "managed": false, "mentionable": false,
        "flags": 0,
    })
}

fn user(id: u64) -> Value {
    json!({"id": id.to_string(), "username": format!("u{id}"), "discriminator": "0",
           "global_name": null, "avatar": null, "bot": id == BOT})
}

fn member(id: u64, roles: &[u64]) -> Value {
    json!({
        "user": user(id), "nick": null, "avatar": null, "banner": null,
        "roles": roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null,
        "deaf": false, "mute": false, "flags": 0, "pending": false,
        "communication_disabled_until": null,
    })
}

fn guild_json(id: u64, owner: u64, roles: Vec<Value>, members: Vec<Value>) -> Value {
    let mut g = json!({
        "id": id.to_string(), "name": "g", "icon": null, "splash": null,
        "discovery_splash": null, "owner_id": owner.to_string(), "afk_channel_id": null,
        "afk_timeout": 300, "widget_enabled": false, "widget_channel_id": null,
        "verification_level": 1, "default_message_notifications": 1,
        "explicit_content_filter": 2, "roles": roles, "emojis": [], "features": [],
        "mfa_level": 0, "application_id": null, "system_channel_id": null,
        "system_channel_flags": 0, "rules_channel_id": null, "max_presences": null,
    });
    let more = json!({
        "max_members": 500000, "vanity_url_code": null, "description": null,
        "banner": null, "premium_tier": 0, "premium_subscription_count": 0,
        "preferred_locale": "en-US", "public_updates_channel_id": null,
        "max_video_channel_users": 25, "nsfw_level": 0, "stickers": [],
        "premium_progress_bar_enabled": false, "safety_alerts_channel_id": null,
    });
    let gateway = json!({
        "joined_at": "2024-01-01T00:00:00.000000+00:00", "large": false,
        "unavailable": false, "member_count": members.len(), "members": members,
        "channels": [], "threads": [], "presences": [], "voice_states": [],
        "stage_instances": [], "guild_scheduled_events": [], "nsfw": false,
    });
    let o = g.as_object_mut().expect("object");
    for part in [more, gateway] {
        if let Value::Object(m) = part {
            o.extend(m);
        }
    }
    g
}

fn guild_create(id: u64, owner: u64, roles: Vec<Value>, members: Vec<Value>) -> Event {
    let g: Guild =
        serde_json::from_value(guild_json(id, owner, roles, members)).expect("guild json");
    Event::GuildCreate(Box::new(GuildCreate::Available(g)))
}

fn ready(bot: u64) -> Event {
    let r: Ready = serde_json::from_value(json!({
        "v": 10, "user": {"id": bot.to_string(), "username": "kyuta", "discriminator": "0",
             "avatar": null, "bot": true, "mfa_enabled": false, "verified": true, "flags": 0},
        "guilds": [], "session_id": "s", "resume_gateway_url": "ws://127.0.0.1:1",
        "shard": [0, 1], "application": {"id": "5", "flags": 0},
    }))
    .expect("ready json");
    Event::Ready(r)
}

/// A guild with @everyone (SEND_MESSAGES), mod (pos 2, KICK+BAN), helper (pos 1,
/// MODERATE), admin (pos 3, ADMINISTRATOR), bot role (pos 4, BAN).
fn setup() -> GuildCache {
    let cache = GuildCache::new();
    cache.update(&ready(BOT));
    cache.update(&guild_create(
        G,
        OWNER,
        vec![
            role(G, 0, Permissions::SEND_MESSAGES),
            role(20, 2, Permissions::KICK_MEMBERS | Permissions::BAN_MEMBERS),
            role(21, 1, Permissions::MODERATE_MEMBERS),
            role(22, 3, Permissions::ADMINISTRATOR),
            role(23, 4, Permissions::BAN_MEMBERS),
        ],
        vec![
            member(OWNER, &[]),
            member(BOT, &[23]),
            member(30, &[20, 21]),
            member(31, &[]),
            member(32, &[22]),
        ],
    ));
    cache
}

#[test]
fn ready_sets_bot_id_and_guild_create_fills() {
    let cache = setup();
    assert_eq!(cache.bot_user_id(), Some(BOT));
    assert_eq!(cache.guild_count(), 1);
    assert_eq!(cache.owner_id(G), Some(OWNER));
    let s = cache.stats();
    assert_eq!((s.guilds, s.members, s.roles), (1, 5, 5));
}

#[test]
fn permissions_combine_roles_owner_and_admin() {
    let cache = setup();
    assert_eq!(cache.member_permissions(G, OWNER), Some(Permissions::all()));
    assert_eq!(
        cache.member_permissions(G, 32),
        Some(Permissions::all()),
        "admin"
    );
    assert_eq!(
        cache.member_permissions(G, 30),
        Some(
            Permissions::SEND_MESSAGES
                | Permissions::KICK_MEMBERS
                | Permissions::BAN_MEMBERS
                | Permissions::MODERATE_MEMBERS
        )
    );
    assert_eq!(
        cache.member_permissions(G, 31),
        Some(Permissions::SEND_MESSAGES)
    );
    assert_eq!(cache.member_permissions(G, 99), None, "uncached member");
    assert_eq!(cache.member_permissions(G + 1, 30), None, "uncached guild");
}

#[test]
fn hierarchy_ranks_follow_discord_order() {
    let cache = setup();
    // Ranks (excluding @everyone): helper(1)=1, mod(2)=2, admin(3)=3, bot(4)=4.
    assert_eq!(cache.highest_role_position(G, 30), Some(2));
    assert_eq!(cache.highest_role(G, 30), Some(20));
    assert_eq!(
        cache.highest_role_position(G, 31),
        Some(0),
        "no roles = @everyone"
    );
    assert_eq!(cache.highest_role_position(G, BOT), Some(4));
    assert_eq!(cache.highest_role_position(G, 99), None);
    // Equal positions: the lower id ranks higher.
    let tie_low: RoleCreate = serde_json::from_value(
        json!({"guild_id": G.to_string(), "role": role(40, 2, Permissions::empty())}),
    )
    .unwrap();
    cache.update(&Event::RoleCreate(tie_low));
    let add: MemberAdd = serde_json::from_value({
        let mut m = member(33, &[40]);
        m["guild_id"] = json!(G.to_string());
        m
    })
    .unwrap();
    cache.update(&Event::MemberAdd(Box::new(add)));
    // Role 20 and 40 share position 2; 20 has the lower id so it is above 40.
    let r20 = cache.highest_role_position(G, 30).unwrap();
    let r40 = cache.highest_role_position(G, 33).unwrap();
    assert!(r20 > r40, "{r20} vs {r40}");
    assert_ne!(r20, r40, "distinct roles never tie");
}

#[test]
fn role_events_update_permissions_and_positions() {
    let cache = setup();
    let upd: RoleUpdate = serde_json::from_value(
        json!({"guild_id": G.to_string(), "role": role(21, 9, Permissions::ADMINISTRATOR)}),
    )
    .unwrap();
    cache.update(&Event::RoleUpdate(upd));
    assert_eq!(cache.member_permissions(G, 30), Some(Permissions::all()));
    assert_eq!(cache.highest_role(G, 30), Some(21));
    let del: RoleDelete =
        serde_json::from_value(json!({"guild_id": G.to_string(), "role_id": "21"})).unwrap();
    cache.update(&Event::RoleDelete(del));
    assert_eq!(cache.highest_role(G, 30), Some(20));
    assert!(
        !cache
            .member_permissions(G, 30)
            .unwrap()
            .contains(Permissions::MODERATE_MEMBERS)
    );
}

#[test]
fn member_events() {
    let cache = setup();
    let upd: MemberUpdate = serde_json::from_value(json!({
        "guild_id": G.to_string(), "roles": ["22"], "user": user(31),
        "nick": null, "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "deaf": false, "mute": false, "pending": false, "avatar": null,
        "premium_since": null, "communication_disabled_until": null, "flags": 0,
    }))
    .unwrap();
    cache.update(&Event::MemberUpdate(Box::new(upd)));
    assert_eq!(cache.member_permissions(G, 31), Some(Permissions::all()));
    let rm: MemberRemove =
        serde_json::from_value(json!({"guild_id": G.to_string(), "user": user(31)})).unwrap();
    cache.update(&Event::MemberRemove(rm));
    assert_eq!(cache.member_permissions(G, 31), None);
    let chunk: MemberChunk = serde_json::from_value(json!({
        "guild_id": G.to_string(), "chunk_index": 0, "chunk_count": 1,
        "members": [member(50, &[20]), member(51, &[])],
        "not_found": [], "presences": [],
    }))
    .unwrap();
    cache.update(&Event::MemberChunk(chunk));
    assert_eq!(cache.highest_role(G, 50), Some(20));
    assert_eq!(cache.member_roles(G, 51), Some(vec![]));
}

#[test]
fn guild_update_and_delete() {
    let cache = setup();
    let mut pg = guild_json(G, 31, vec![role(G, 0, Permissions::empty())], vec![]);
    let o = pg.as_object_mut().unwrap();
    for k in [
        "members",
        "channels",
        "threads",
        "presences",
        "voice_states",
    ] {
        o.remove(k);
    }
    let pg: PartialGuild = serde_json::from_value(pg).expect("partial guild");
    cache.update(&Event::GuildUpdate(Box::new(GuildUpdate(pg))));
    assert_eq!(cache.owner_id(G), Some(31));
    assert_eq!(cache.member_permissions(G, 31), Some(Permissions::all()));
    assert_eq!(cache.member_permissions(G, 30), Some(Permissions::empty()));
    let del: GuildDelete = serde_json::from_value(json!({"id": G.to_string()})).unwrap();
    cache.update(&Event::GuildDelete(del));
    assert_eq!(cache.guild_count(), 0);
    assert_eq!(cache.owner_id(G), None);
}

fn text_channel(id: u64, guild: u64) -> Value {
    json!({"id": id.to_string(), "type": 0, "guild_id": guild.to_string(), "name": "c",
           "position": 0, "permission_overwrites": [], "nsfw": false})
}

#[test]
fn channels_follow_guild_create_and_channel_events() {
    let cache = GuildCache::new();
    let mut g = guild_json(G, OWNER, vec![role(G, 0, Permissions::empty())], vec![]);
    g["channels"] = json!([text_channel(50, G), text_channel(40, G)]);
    let g: Guild = serde_json::from_value(g).expect("guild");
    cache.update(&Event::GuildCreate(Box::new(GuildCreate::Available(g))));
    assert_eq!(cache.has_channel(G, 40), Some(true));
    assert_eq!(cache.has_channel(G, 50), Some(true));
    assert_eq!(cache.has_channel(G, 60), Some(false));
    assert_eq!(cache.has_channel(G + 1, 40), None, "unknown guild");
    assert_eq!(cache.has_role(G, G), Some(true));
    assert_eq!(cache.has_role(G, 7), Some(false));

    let created: twilight_model::channel::Channel =
        serde_json::from_value(text_channel(60, G)).expect("channel");
    cache.update(&Event::ChannelCreate(Box::new(
        twilight_model::gateway::payload::incoming::ChannelCreate(created.clone()),
    )));
    assert_eq!(cache.has_channel(G, 60), Some(true));
    cache.update(&Event::ChannelDelete(Box::new(
        twilight_model::gateway::payload::incoming::ChannelDelete(created),
    )));
    assert_eq!(cache.has_channel(G, 60), Some(false));
    cache.note_channel(G, 70);
    assert_eq!(cache.has_channel(G, 70), Some(true));

    // A guild read over REST carries no channels: unknown, not "none".
    cache.update(&guild_create(
        G + 2,
        OWNER,
        vec![role(G + 2, 0, Permissions::empty())],
        vec![],
    ));
    assert_eq!(cache.has_channel(G + 2, 40), None);
}

#[test]
fn bounded_by_guilds_lru_and_members() {
    let cache = GuildCache::builder()
        .max_guilds(2)
        .max_members_per_guild(2)
        .build();
    cache.update(&ready(BOT));
    let mk = |id| {
        guild_create(
            id,
            OWNER,
            vec![role(id, 0, Permissions::empty())],
            vec![
                member(1, &[]),
                member(2, &[]),
                member(3, &[]),
                member(BOT, &[]),
            ],
        )
    };
    cache.update(&mk(1));
    cache.update(&mk(2));
    let s = cache.stats();
    assert_eq!(s.members, 6, "2 members per guild + the bot always");
    assert!(cache.member_roles(1, BOT).is_some());
    // Touch guild 1, then add guild 3: guild 2 is the least recently used.
    assert!(cache.owner_id(1).is_some());
    cache.update(&mk(3));
    assert_eq!(cache.guild_count(), 2);
    assert!(cache.contains_guild(1));
    assert!(!cache.contains_guild(2));
    assert!(cache.contains_guild(3));
}

/// A guild as GUILD_CREATE sends it without GUILD_PRESENCES: the bot alone.
fn bot_only() -> GuildCache {
    let cache = GuildCache::new();
    cache.update(&ready(BOT));
    cache.update(&guild_create(
        G,
        OWNER,
        vec![
            role(G, 0, Permissions::SEND_MESSAGES),
            role(20, 2, Permissions::KICK_MEMBERS | Permissions::BAN_MEMBERS),
            role(23, 4, Permissions::BAN_MEMBERS),
        ],
        vec![member(BOT, &[23])],
    ));
    cache
}

#[test]
fn message_create_caches_the_author_and_mentioned_members() {
    let cache = bot_only();
    assert_eq!(cache.member_roles(G, 30), None);
    let m: twilight_model::channel::Message = serde_json::from_value(json!({
        "id": "900", "channel_id": "901", "guild_id": G.to_string(), "author": user(30),
        "content": "!ban <@31>", "timestamp": "2024-01-01T00:00:00.000000+00:00",
        "edited_timestamp": null, "tts": false, "mention_everyone": false,
        "mentions": [{"id": "31", "username": "u31", "discriminator": "0", "avatar": null,
                      "global_name": null, "public_flags": 0,
                      "member": {"roles": ["20"], "joined_at": "2024-01-01T00:00:00.000000+00:00",
                                 "deaf": false, "mute": false, "flags": 0, "nick": null,
                                 "premium_since": null, "communication_disabled_until": null}}],
        "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0,
        "flags": 0, "components": [],
        "member": {"roles": ["20"], "joined_at": "2024-01-01T00:00:00.000000+00:00",
                   "deaf": false, "mute": false, "flags": 0, "nick": null,
                   "premium_since": null, "communication_disabled_until": null},
    }))
    .expect("message json");
    cache.update(&Event::MessageCreate(Box::new(
        twilight_model::gateway::payload::incoming::MessageCreate {
            channel_type: None,
            message: m,
        },
    )));
    assert_eq!(cache.member_roles(G, 30), Some(vec![20]));
    assert_eq!(cache.highest_role_position(G, 30), Some(1));
    // The mentioned member, with theirs.
    assert_eq!(cache.member_roles(G, 31), Some(vec![20]));
}

#[test]
fn interaction_caches_the_invoker_and_resolved_members() {
    let cache = bot_only();
    let partial = |roles: &[&str]| {
        json!({"roles": roles, "joined_at": "2024-01-01T00:00:00.000000+00:00",
               "deaf": false, "mute": false, "flags": 0, "nick": null, "pending": false,
               "permissions": "0", "premium_since": null, "communication_disabled_until": null})
    };
    let mut invoker = partial(&["20"]);
    invoker["user"] = user(30);
    let i: twilight_model::application::interaction::Interaction = serde_json::from_value(json!({
        "id": "700", "application_id": "5", "type": 2, "token": "tok", "version": 1,
        "guild_id": G.to_string(), "channel_id": "901", "member": invoker,
        "app_permissions": "0", "locale": "en-US", "entitlements": [],
        "authorizing_integration_owners": {}, "context": 0, "attachment_size_limit": 10485760,
        "data": {"id": "800", "name": "ban", "type": 1,
                 "options": [{"name": "user", "type": 6, "value": "31"}],
                 "resolved": {"users": {"31": user(31)},
                              "members": {"31": partial(&[])}}},
    }))
    .expect("interaction json");
    cache.update(&Event::InteractionCreate(Box::new(
        twilight_model::gateway::payload::incoming::InteractionCreate(i),
    )));
    assert_eq!(cache.member_roles(G, 30), Some(vec![20]));
    assert_eq!(cache.member_roles(G, 31), Some(vec![]));
    assert_eq!(cache.highest_role_position(G, 31), Some(0));
}

#[test]
fn a_member_read_over_rest_is_kept_and_events_keep_it_current() {
    let cache = bot_only();
    cache.note_member(G, 31, &[20]);
    assert_eq!(cache.member_roles(G, 31), Some(vec![20]));
    let mr: MemberRemove = serde_json::from_value(json!({
        "guild_id": G.to_string(), "user": user(31),
    }))
    .expect("member remove json");
    cache.update(&Event::MemberRemove(mr));
    assert_eq!(cache.member_roles(G, 31), None);
    // Not cached guild: nothing is kept.
    cache.note_member(G + 1, 31, &[20]);
    assert_eq!(cache.member_roles(G + 1, 31), None);
}
