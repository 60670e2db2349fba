//! The invite URL: the scopes and exactly the permissions Kyuta uses (see
//! `docs/discord-setup.md`), logged at start.

use twilight_model::guild::Permissions;

/// The permissions the worker's calls need, and no more:
/// - View Channels, Send Messages, Embed Links, Read Message History: prefix-command replies
///   (a reply references the message), the mod log, automod notices (embeds);
/// - Manage Messages: automod deletes messages, `/purge`;
/// - Kick Members, Ban Members, Timeout Members (`MODERATE_MEMBERS`): the moderation
///   actions (softban is a ban and an unban; warn needs Timeout Members of the moderator);
/// - View Audit Log: Discord sends audit-log events only then, and those make cases of the
///   bans, kicks and timeouts done outside Kyuta ([`crate::moderation::external`]);
/// - Manage Roles: `/lockdown` and `/unlock` edit a channel's `@everyone` overwrite (Discord
///   asks Manage Roles for overwrites); Manage Channels: `/slowmode`.
///
/// Slash-command answers and DMs need none.
pub const PERMISSIONS: Permissions = Permissions::VIEW_CHANNEL
    .union(Permissions::SEND_MESSAGES)
    .union(Permissions::EMBED_LINKS)
    .union(Permissions::READ_MESSAGE_HISTORY)
    .union(Permissions::MANAGE_MESSAGES)
    .union(Permissions::KICK_MEMBERS)
    .union(Permissions::BAN_MEMBERS)
    .union(Permissions::MODERATE_MEMBERS)
    .union(Permissions::VIEW_AUDIT_LOG)
    .union(Permissions::MANAGE_ROLES)
    .union(Permissions::MANAGE_CHANNELS);

/// The OAuth2 URL that adds the bot of `application_id` to a server, with the scopes `bot`
/// and `applications.commands` and [`PERMISSIONS`].
#[must_use]
pub fn url(application_id: u64) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={application_id}&scope=bot+applications.commands&permissions={}",
        PERMISSIONS.bits()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invite_asks_for_exactly_what_is_used() {
        // 2 + 4 + 16 + 128 + 1024 + 2048 + 8192 + 16384 + 65536 + 2^28 + 2^40, the figure in
        // the setup guide.
        assert_eq!(PERMISSIONS.bits(), 1_099_780_156_566);
        assert!(!PERMISSIONS.contains(Permissions::ADMINISTRATOR));
        assert_eq!(
            url(42),
            "https://discord.com/oauth2/authorize?client_id=42&scope=bot+applications.commands&permissions=1099780156566"
        );
    }
}
