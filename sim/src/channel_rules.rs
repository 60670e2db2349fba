//! Who may post in a channel, as Discord decides it: the channel's permissions after its
//! overwrites, timeouts, and slowmode (`rate_limit_per_user`). Shared by the bot's
//! `POST /channels/{id}/messages` and users' messages (control API).

use crate::error::{ApiError, e};
use crate::state::State;
use crate::world::{Channel, Guild, World, channel_type, perms};
use std::time::Duration;

/// Whether `user` may post a message in channel `cid` at `now_ms` (Unix ms):
/// - an unknown channel: 10003; a DM: only its recipient and the bot;
/// - in a guild: a non-member, or a member without VIEW_CHANNEL in the channel (overwrites
///   included): 50001 Missing Access; a category: 50008; without SEND_MESSAGES, or in a
///   timeout: 50013 Missing Permissions;
/// - slowmode: a member who posted in the channel less than `rate_limit_per_user` seconds
///   ago gets 429 with 20016 and `retry_after` the rest of the wait. Bots and members with
///   MANAGE_MESSAGES or MANAGE_CHANNELS in the channel are exempt, as on Discord.
///
/// Nothing is recorded: [`record_post`] notes the post once it is made.
pub(crate) fn user_may_post(
    world: &World,
    st: &State,
    cid: u64,
    user: u64,
    now_ms: u64,
) -> Result<(), ApiError> {
    if let Some(dm) = st.dm_channels.get(&cid) {
        let recipient = dm.recipient.as_ref().map(|u| u.id);
        return if user == world.bot.id || recipient == Some(user) {
            Ok(())
        } else {
            Err(e::missing_access())
        };
    }
    let n = world.owner_index(cid).ok_or_else(e::unknown_channel)?;
    let g = st.guild_by_index(world, n);
    let c = g.channel(cid).ok_or_else(e::unknown_channel)?;
    let member = g.members.get(&user).ok_or_else(e::missing_access)?;
    let p = g.channel_permissions(user, cid);
    if p & perms::VIEW_CHANNEL == 0 {
        return Err(e::missing_access());
    }
    if !matches!(c.kind, channel_type::GUILD_TEXT | channel_type::GUILD_VOICE) {
        return Err(e::non_text_channel());
    }
    if p & perms::SEND_MESSAGES == 0
        || member
            .communication_disabled_until
            .is_some_and(|t| t > now_ms)
    {
        return Err(e::missing_permissions());
    }
    if slowed(&g, c, user)
        && let Some(last) = st.last_posts.get(&(cid, user))
    {
        let free_at = last + u64::from(c.rate_limit_per_user) * 1000;
        if now_ms < free_at {
            return Err(e::slowmode(Duration::from_millis(free_at - now_ms)));
        }
    }
    Ok(())
}

/// Whether slowmode holds `user` back in channel `c` of `g`: the channel has it and the
/// member is neither a bot nor holds MANAGE_MESSAGES or MANAGE_CHANNELS there.
fn slowed(g: &Guild, c: &Channel, user: u64) -> bool {
    if c.rate_limit_per_user == 0 || g.members.get(&user).is_none_or(|m| m.user.bot) {
        return false;
    }
    g.channel_permissions(user, c.id) & (perms::MANAGE_MESSAGES | perms::MANAGE_CHANNELS) == 0
}

/// Notes that `user` posted in channel `cid` at `now_ms`, so that slowmode holds their next
/// message back. Only posts that start a wait are kept (a slowmode channel, a member it
/// applies to), so the table stays as small as the slowmode channels' posters.
pub(crate) fn record_post(world: &World, st: &mut State, cid: u64, user: u64, now_ms: u64) {
    let Some(n) = world
        .owner_index(cid)
        .filter(|_| !st.dm_channels.contains_key(&cid))
    else {
        return;
    };
    let g = st.guild_by_index(world, n);
    let applies = g.channel(cid).is_some_and(|c| slowed(&g, c, user));
    drop(g);
    if applies {
        st.last_posts.insert((cid, user), now_ms);
    } else {
        st.last_posts.remove(&(cid, user));
    }
}

/// [`user_may_post`], then [`record_post`] when the post is allowed: for a route that
/// creates the message whenever this answers `Ok`.
///
/// The control API's user-message route (`POST /_sim/channels/{id}/messages`) calls it right
/// after it has checked the author.
pub(crate) fn admit_user_post(
    world: &World,
    st: &mut State,
    cid: u64,
    user: u64,
    now_ms: u64,
) -> Result<(), ApiError> {
    user_may_post(world, st, cid, user, now_ms)?;
    record_post(world, st, cid, user, now_ms);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::Overwrite;
    use axum::http::StatusCode;

    const NOW: u64 = 1_800_000_000_000;

    /// A world, its guild 0 (materialized in a fresh state) and the ids of #general and a
    /// plain member (no roles).
    fn setup() -> (World, State, u64, u64, u64) {
        let w = World::new(1, 3, 20);
        let mut st = State::default();
        let gid = w.guild_id(0);
        let g = st.guild_mut(&w, gid).expect("guild 0");
        let general = g.channels.iter().find(|c| c.name == "general").unwrap().id;
        let plain = g
            .members
            .values()
            .find(|m| m.roles.is_empty() && !m.user.bot && m.user.id != g.owner_id)
            .unwrap()
            .user
            .id;
        (w, st, gid, general, plain)
    }

    fn channel_mut<'a>(st: &'a mut State, w: &World, gid: u64, cid: u64) -> &'a mut Channel {
        st.guild_mut(w, gid)
            .unwrap()
            .channels
            .iter_mut()
            .find(|c| c.id == cid)
            .unwrap()
    }

    fn code(r: Result<(), ApiError>) -> (StatusCode, u32) {
        let e = r.expect_err("refused");
        (e.status, e.code)
    }

    #[test]
    fn a_member_may_post_in_an_open_channel() {
        let (w, st, _, general, plain) = setup();
        assert!(user_may_post(&w, &st, general, plain, NOW).is_ok());
    }

    #[test]
    fn a_denied_send_messages_overwrite_refuses_with_50013() {
        let (w, mut st, gid, general, plain) = setup();
        channel_mut(&mut st, &w, gid, general)
            .overwrites
            .push(Overwrite {
                id: gid,
                kind: 0,
                allow: 0,
                deny: perms::SEND_MESSAGES,
            });
        assert_eq!(
            code(user_may_post(&w, &st, general, plain, NOW)),
            (StatusCode::FORBIDDEN, 50013)
        );
        // A member overwrite allowing it wins over @everyone's deny.
        channel_mut(&mut st, &w, gid, general)
            .overwrites
            .push(Overwrite {
                id: plain,
                kind: 1,
                allow: perms::SEND_MESSAGES,
                deny: 0,
            });
        assert!(user_may_post(&w, &st, general, plain, NOW).is_ok());
    }

    #[test]
    fn a_hidden_channel_refuses_with_50001_and_a_category_with_50008() {
        let (w, mut st, gid, general, plain) = setup();
        channel_mut(&mut st, &w, gid, general)
            .overwrites
            .push(Overwrite {
                id: plain,
                kind: 1,
                allow: 0,
                deny: perms::VIEW_CHANNEL,
            });
        assert_eq!(
            code(user_may_post(&w, &st, general, plain, NOW)),
            (StatusCode::FORBIDDEN, 50001)
        );
        let category = st.guild(&w, gid).unwrap().channels[0].id;
        assert_eq!(
            code(user_may_post(&w, &st, category, plain, NOW)),
            (StatusCode::BAD_REQUEST, 50008)
        );
        // A non-member, an unknown channel.
        assert_eq!(
            code(user_may_post(&w, &st, general, 42, NOW)),
            (StatusCode::FORBIDDEN, 50001)
        );
        assert_eq!(
            code(user_may_post(&w, &st, 7, plain, NOW)),
            (StatusCode::NOT_FOUND, 10003)
        );
    }

    #[test]
    fn a_timed_out_member_cannot_post() {
        let (w, mut st, gid, general, plain) = setup();
        st.guild_mut(&w, gid)
            .unwrap()
            .members
            .get_mut(&plain)
            .unwrap()
            .communication_disabled_until = Some(NOW + 60_000);
        assert_eq!(
            code(user_may_post(&w, &st, general, plain, NOW)),
            (StatusCode::FORBIDDEN, 50013)
        );
        assert!(user_may_post(&w, &st, general, plain, NOW + 60_000).is_ok());
    }

    #[test]
    fn slowmode_holds_a_member_back_for_rate_limit_per_user_seconds() {
        let (w, mut st, gid, general, plain) = setup();
        channel_mut(&mut st, &w, gid, general).rate_limit_per_user = 10;
        assert!(admit_user_post(&w, &mut st, general, plain, NOW).is_ok());
        let e = user_may_post(&w, &st, general, plain, NOW + 4_000).expect_err("slowmode");
        assert_eq!((e.status, e.code), (StatusCode::TOO_MANY_REQUESTS, 20016));
        assert_eq!(
            e.message,
            "This action cannot be performed due to slowmode rate limit"
        );
        assert_eq!(e.retry_after, Some(Duration::from_millis(6_000)));
        let body = e.body();
        assert_eq!(body["retry_after"], 6.0);
        assert_eq!(body["global"], false);
        // A refused post does not restart the wait; once it is over the member may post.
        assert!(admit_user_post(&w, &mut st, general, plain, NOW + 9_999).is_err());
        assert!(admit_user_post(&w, &mut st, general, plain, NOW + 10_000).is_ok());
        assert!(user_may_post(&w, &st, general, plain, NOW + 10_001).is_err());
        // Other channels and other members are not held back.
        let off_topic = st
            .guild(&w, gid)
            .unwrap()
            .channels
            .iter()
            .find(|c| c.name == "off-topic")
            .unwrap()
            .id;
        assert!(user_may_post(&w, &st, off_topic, plain, NOW + 10_001).is_ok());
        // Slowmode switched off: the member may post at once.
        channel_mut(&mut st, &w, gid, general).rate_limit_per_user = 0;
        assert!(admit_user_post(&w, &mut st, general, plain, NOW + 10_002).is_ok());
        assert!(st.last_posts.is_empty(), "{:?}", st.last_posts);
    }

    #[test]
    fn moderators_admins_and_bots_are_exempt_from_slowmode() {
        let (w, mut st, gid, general, plain) = setup();
        channel_mut(&mut st, &w, gid, general).rate_limit_per_user = 21_600;
        let g = st.guild(&w, gid).unwrap();
        let with_role = |name: &str| {
            let rid = g.roles.iter().find(|r| r.name == name).unwrap().id;
            g.members
                .values()
                .find(|m| m.roles.contains(&rid))
                .unwrap()
                .user
                .id
        };
        // Moderator: MANAGE_MESSAGES; Admin: ADMINISTRATOR; the bot: a bot (and
        // MANAGE_MESSAGES).
        let exempt = [with_role("Moderator"), with_role("Admin"), w.bot.id];
        drop(g);
        for u in exempt {
            assert!(admit_user_post(&w, &mut st, general, u, NOW).is_ok());
            assert!(
                admit_user_post(&w, &mut st, general, u, NOW + 1).is_ok(),
                "{u}"
            );
        }
        assert!(st.last_posts.is_empty());
        // MANAGE_CHANNELS in the channel exempts too.
        channel_mut(&mut st, &w, gid, general)
            .overwrites
            .push(Overwrite {
                id: plain,
                kind: 1,
                allow: perms::MANAGE_CHANNELS,
                deny: 0,
            });
        assert!(admit_user_post(&w, &mut st, general, plain, NOW).is_ok());
        assert!(admit_user_post(&w, &mut st, general, plain, NOW + 1).is_ok());
    }

    #[test]
    fn only_the_recipient_and_the_bot_post_in_a_dm() {
        let (w, mut st, gid, _, plain) = setup();
        let user = st.user(&w, plain).unwrap();
        let dm = Channel {
            id: 1 << 40,
            guild_id: None,
            name: String::new(),
            kind: channel_type::DM,
            position: 0,
            parent_id: None,
            overwrites: Vec::new(),
            topic: None,
            rate_limit_per_user: 0,
            recipient: Some(user),
        };
        st.dm_channels.insert(dm.id, dm);
        assert!(user_may_post(&w, &st, 1 << 40, plain, NOW).is_ok());
        assert!(user_may_post(&w, &st, 1 << 40, w.bot.id, NOW).is_ok());
        assert_eq!(
            code(user_may_post(&w, &st, 1 << 40, gid, NOW)),
            (StatusCode::FORBIDDEN, 50001)
        );
    }
}
