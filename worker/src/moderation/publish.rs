//! A case in the guild's mod-log channel: its entry and the post.

use std::time::Duration;

use twilight_model::channel::message::Embed;

use crate::action::ActionKind;
use crate::store::{Case, CaseOutcome};

use super::discord;
use super::modlog::{self, ModlogEntry};
use super::request::Deps;

/// The mod-log entry of a case.
#[must_use]
pub fn modlog_entry(case: &Case) -> ModlogEntry {
    ModlogEntry {
        number: case.number,
        kind: case.kind,
        user_id: case.user_id,
        moderator_id: case.moderator_id,
        reason: case.reason.clone(),
        duration: case.duration_secs.map(Duration::from_secs),
        created_at: case.created_at.unix_secs(),
        references: case.references.clone(),
        failure: match &case.outcome {
            CaseOutcome::Failed { error } => Some(error.clone()),
            _ => None,
        },
        details: (case.kind == ActionKind::Purge)
            .then(|| super::purge::evidence_summary(case.evidence.as_ref()))
            .flatten(),
    }
}

/// Posts the case's embed in the mod-log channel, if one is set. Failures are logged.
pub async fn post_modlog(deps: &Deps, channel: Option<u64>, case: &Case) {
    let Some(channel) = channel else { return };
    let embed = modlog::build_embed(&modlog_entry(case));
    // One post per version of the case: a re-post after /reason changes the reason and is a
    // new message (Discord would answer a repeated nonce with the first post).
    let once = format!(
        "modlog:{}:{}:{}:{}",
        case.guild_id,
        case.number,
        channel,
        case.reason_history.len()
    );
    post_to_modlog(deps, case.guild_id, channel, &embed, &once).await;
}

/// Posts `embed` in `channel`, the mod-log channel of `guild`, once per `once` key (see
/// [`discord::post_once`]), after checking that the channel is the guild's: a setting stored
/// before ids were checked could name another server's channel. Failures are logged.
pub async fn post_to_modlog(deps: &Deps, guild: u64, channel: u64, embed: &Embed, once: &str) {
    if let Some(cache) = &deps.cache {
        match crate::services::channel_in_guild(&deps.rest, cache, guild, channel).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    guild,
                    channel,
                    "the mod-log channel is not a channel of this server; nothing posted (set it again with /modlog)"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(guild, channel, error = %e, "could not check the mod-log channel; nothing posted");
                return;
            }
        }
    }
    if let Err(e) = discord::post_embed(&deps.rest, channel, embed, once).await {
        tracing::warn!(guild, channel, error = %e, "could not post to the mod-log channel");
    }
}
