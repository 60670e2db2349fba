//! The I/O of `/purge`: reading a channel's history for matches, and deleting them in bulk
//! and one by one, with every request through the worker's REST client (the fleet-wide budget
//! and twilight's per-route buckets apply to each page and each delete).

use twilight_http::request::AuditLogReason as _;
use twilight_model::{
    channel::Message,
    id::{
        Id,
        marker::{ChannelMarker, MessageMarker},
    },
};

use crate::rest::{Rest, RestError};

use super::{Candidate, MAX_SCANNED, PAGE_LIMIT, Plan, PurgeFilter};

/// Discord's code for "Unknown Message": already deleted.
const UNKNOWN_MESSAGE: u64 = 10_008;
/// Discord's code for "Missing Permissions".
const MISSING_PERMISSIONS: u64 = 50_013;
/// Discord's code for "You can only bulk delete messages that are under 14 days old".
const TOO_OLD_TO_BULK_DELETE: u64 = 50_034;

/// What a scan of the channel found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Matching message ids, newest first, at most the filter's count.
    pub ids: Vec<u64>,
    /// Messages read.
    pub scanned: usize,
}

/// Whether a purge leaves `message` whatever the filter says: pinned messages stay.
fn always_kept(message: &Message) -> bool {
    message.pinned
}

/// Reads `channel` newest first, from before `start_before` (or its newest message), until
/// `filter.count` messages match, the history ends, `filter.after` is reached, or
/// [`MAX_SCANNED`] messages were read. `on_page` is told how many were read so far.
///
/// # Errors
/// The first page Discord refuses.
pub async fn scan(
    rest: &Rest,
    channel: u64,
    filter: &PurgeFilter,
    start_before: Option<u64>,
    on_page: impl Fn(usize) + Send,
) -> Result<Scan, RestError> {
    let channel_id: Id<ChannelMarker> = Id::new(channel);
    let mut out = Scan::default();
    let mut cursor = start_before.and_then(Id::<MessageMarker>::new_checked);
    loop {
        let response = rest
            .call("channel_messages", |c| {
                let req = c.channel_messages(channel_id);
                match cursor {
                    Some(before) => req.before(before).limit(PAGE_LIMIT).into_future(),
                    None => req.limit(PAGE_LIMIT).into_future(),
                }
            })
            .await?;
        let page: Vec<Message> = response.models().await.map_err(|source| RestError::Body {
            route: "channel_messages",
            source,
        })?;
        out.scanned += page.len();
        for message in &page {
            let id = message.id.get();
            if filter.after.is_some_and(|a| id <= a) {
                return Ok(out);
            }
            let candidate = Candidate {
                id,
                author_id: message.author.id.get(),
                author_bot: message.author.bot || message.webhook_id.is_some(),
                content: &message.content,
                attachments: message.attachments.len(),
            };
            if !always_kept(message) && filter.matches(&candidate) {
                out.ids.push(id);
                if out.ids.len() >= filter.count {
                    return Ok(out);
                }
            }
        }
        on_page(out.scanned);
        match page.last() {
            Some(oldest) if page.len() >= usize::from(PAGE_LIMIT) && out.scanned < MAX_SCANNED => {
                cursor = Some(oldest.id);
            }
            _ => return Ok(out),
        }
    }
}

/// What the deletes did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Messages deleted, or found already gone.
    pub done: usize,
    /// Of those, deleted one by one because they are older than 14 days.
    pub old: usize,
    /// Why the purge stopped early, if it did.
    pub stopped: Option<String>,
}

/// Why a delete failed, in words for the moderator.
fn describe(e: &RestError, channel: u64) -> String {
    match e.discord_code() {
        Some(MISSING_PERMISSIONS) => format!(
            "I need the Manage Messages and Read Message History permissions in <#{channel}>"
        ),
        _ => e.to_string(),
    }
}

/// Carries out `plan` in `channel`: the bulk deletes, then the single ones. A bulk delete that
/// Discord refuses as too old (a message aged past 14 days meanwhile) is done one by one;
/// a message already gone counts as deleted. Stops at the first other refusal. `on_progress`
/// is told how many are done.
pub async fn delete(
    rest: &Rest,
    channel: u64,
    plan: &Plan,
    reason: Option<&str>,
    on_progress: impl Fn(usize) + Send,
) -> Deleted {
    let channel_id: Id<ChannelMarker> = Id::new(channel);
    let mut out = Deleted::default();
    let mut single: Vec<u64> = Vec::new();
    for batch in &plan.bulk {
        let ids: Vec<Id<MessageMarker>> = batch.iter().copied().map(Id::new).collect();
        let res = rest
            .call("delete_messages", |c| {
                let req = c.delete_messages(channel_id, &ids);
                match reason {
                    Some(r) => req.reason(r).into_future(),
                    None => req.into_future(),
                }
            })
            .await;
        match res {
            Ok(_) => out.done += batch.len(),
            Err(e) if e.discord_code() == Some(TOO_OLD_TO_BULK_DELETE) => {
                single.extend_from_slice(batch);
            }
            Err(e) => {
                out.stopped = Some(describe(&e, channel));
                return out;
            }
        }
        on_progress(out.done);
    }
    let old_from = plan.single.len() - plan.old;
    let singles = single.iter().map(|id| (*id, false)).chain(
        plan.single
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i >= old_from)),
    );
    for (n, (id, old)) in singles.enumerate() {
        let res = rest
            .call("delete_message", |c| {
                let req = c.delete_message(channel_id, Id::new(id));
                match reason {
                    Some(r) => req.reason(r).into_future(),
                    None => req.into_future(),
                }
            })
            .await;
        match res {
            Ok(_) => {}
            Err(e) if e.discord_code() == Some(UNKNOWN_MESSAGE) => {}
            Err(e) => {
                out.stopped = Some(describe(&e, channel));
                return out;
            }
        }
        out.done += 1;
        out.old += usize::from(old);
        if n % 5 == 4 {
            on_progress(out.done);
        }
    }
    on_progress(out.done);
    out
}
