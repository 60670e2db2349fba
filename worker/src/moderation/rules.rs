//! Permission and hierarchy rules checked before any call to Discord.
//!
//! [`check`] is a pure function over who acts on whom; it returns the first rule that stops
//! the action as a [`Refusal`] whose `Display` text is shown to the moderator. The rules, in
//! the order they are checked:
//!
//! 1. nobody moderates themselves (except `/unban`, which cannot target a member anyway);
//! 2. the bot itself is immune;
//! 3. the guild owner is immune;
//! 4. the moderator holds the action's permission ([`ActionKind::permission`]: `BAN_MEMBERS`
//!    for ban/tempban/unban/softban, `KICK_MEMBERS` for kick, `MODERATE_MEMBERS` for
//!    timeout/untimeout/warn); the owner and `ADMINISTRATOR` holders hold every permission;
//! 5. the bot holds the same permission (Discord would refuse with 50013 otherwise);
//! 6. kick/timeout/untimeout need the target to be a member of the guild;
//! 7. members with `ADMINISTRATOR` cannot be timed out (Discord refuses it);
//! 8. the moderator's highest role is strictly above the target's (the owner is above
//!    everyone);
//! 9. the bot's highest role is strictly above the target's (skipped for warns, which make
//!    no Discord call).
//!
//! Rules 8 and 9 only apply when the target is a member; a user who is not in the guild can
//! still be banned (and unbanned). For automatic actions (escalations) the bot is the
//! moderator: rules 1, 4 and 8 are skipped and rules 5 and 9 apply to every action.
//!
//! The action is an [`ActionKind`] the moderation flow carries out
//! ([`ActionKind::is_manual`]); a tempban answers to the same rules as a ban.

use std::fmt;

use twilight_model::guild::Permissions;

use crate::action::ActionKind;

/// Kick, timeout and warn act on a member (a warn is a message to them, and counts towards
/// escalation in this server); a ban may name anyone.
const fn needs_membership(action: ActionKind) -> bool {
    matches!(
        action,
        ActionKind::Kick | ActionKind::Timeout | ActionKind::Untimeout | ActionKind::Warn
    )
}

/// Every action but a warn is a Discord call.
const fn calls_discord(action: ActionKind) -> bool {
    !matches!(action, ActionKind::Warn)
}

/// Who acts on whom. A "position" here is the rank of the member's highest role in Discord's
/// role order (by position, then the lower id above; `@everyone` = 0), as
/// [`super::facts::GuildFacts::highest_position`] computes it, so two different roles never
/// tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject {
    /// The action.
    pub action: ActionKind,
    /// The guild owner's user id.
    pub owner_id: u64,
    /// The moderator's user id.
    pub moderator_id: u64,
    /// The moderator's guild permissions.
    pub moderator_permissions: Permissions,
    /// The moderator's highest role position.
    pub moderator_position: i64,
    /// The bot's user id.
    pub bot_id: u64,
    /// The bot's guild permissions.
    pub bot_permissions: Permissions,
    /// The bot's highest role position.
    pub bot_position: i64,
    /// The target's user id.
    pub target_id: u64,
    /// The target as a member: `None` when the user is not in the guild.
    pub target_member: Option<TargetMember>,
}

/// What the rules need to know about a target who is a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetMember {
    /// The target's highest role position.
    pub position: i64,
    /// The target's guild permissions.
    pub permissions: Permissions,
}

/// Which party a permission refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The member running the command.
    Moderator,
    /// The bot.
    Bot,
}

/// The rule that stopped an action. `Display` says which rule, for the moderator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Rule 1.
    #[error("you cannot {} yourself", .0.verb())]
    SelfAction(ActionKind),
    /// Rule 2.
    #[error("I will not {} myself", .0.verb())]
    TargetIsBot(ActionKind),
    /// Rule 3.
    #[error("the server owner cannot be moderated")]
    TargetIsOwner(ActionKind),
    /// Rules 4 and 5.
    #[error("{} the {} permission needed to {}", party_has(*.party), permission_name(*.permission), .action.verb())]
    MissingPermission {
        /// Who lacks it.
        party: Party,
        /// The missing permission.
        permission: Permissions,
        /// The action.
        action: ActionKind,
    },
    /// Rule 6.
    #[error("that user is not a member of this server, so I cannot {}", .0.act_on())]
    NotAMember(ActionKind),
    /// Rule 7.
    #[error("members with the Administrator permission cannot be timed out")]
    TargetIsAdministrator,
    /// Rule 8.
    #[error("your highest role must be above the target's highest role to {}", .0.act_on())]
    ModeratorNotAbove(ActionKind),
    /// Rule 9.
    #[error("my highest role must be above the target's highest role to {}; move my role up", .0.act_on())]
    BotNotAbove(ActionKind),
}

fn party_has(party: Party) -> &'static str {
    match party {
        Party::Moderator => "you do not have",
        Party::Bot => "I do not have",
    }
}

/// The name Discord's client shows for a moderation permission.
#[must_use]
pub fn permission_name(permission: Permissions) -> &'static str {
    if permission == Permissions::BAN_MEMBERS {
        "Ban Members"
    } else if permission == Permissions::KICK_MEMBERS {
        "Kick Members"
    } else if permission == Permissions::MODERATE_MEMBERS {
        "Timeout Members"
    } else {
        "required"
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Moderator => "moderator",
            Self::Bot => "bot",
        })
    }
}

fn has(perms: Permissions, needed: Permissions) -> bool {
    perms.contains(Permissions::ADMINISTRATOR) || perms.contains(needed)
}

/// Checks every rule; `Ok(())` when the action may go to Discord.
///
/// # Errors
/// The first [`Refusal`] in the order given in the [module documentation](self).
pub fn check(s: &Subject) -> Result<(), Refusal> {
    let action = s.action;
    // Automatic actions (escalations) have the bot as moderator: only the bot's rules apply.
    let automatic = s.moderator_id == s.bot_id;
    if s.target_id == s.moderator_id && action != ActionKind::Unban && !automatic {
        return Err(Refusal::SelfAction(action));
    }
    if s.target_id == s.bot_id {
        return Err(Refusal::TargetIsBot(action));
    }
    if s.target_id == s.owner_id {
        return Err(Refusal::TargetIsOwner(action));
    }
    let needed = action.permission();
    let moderator_is_owner = s.moderator_id == s.owner_id || automatic;
    if !moderator_is_owner && !has(s.moderator_permissions, needed) {
        return Err(Refusal::MissingPermission {
            party: Party::Moderator,
            permission: needed,
            action,
        });
    }
    if (calls_discord(action) || automatic) && !has(s.bot_permissions, needed) {
        return Err(Refusal::MissingPermission {
            party: Party::Bot,
            permission: needed,
            action,
        });
    }
    let Some(target) = s.target_member else {
        if needs_membership(action) {
            return Err(Refusal::NotAMember(action));
        }
        return Ok(());
    };
    if action == ActionKind::Timeout && target.permissions.contains(Permissions::ADMINISTRATOR) {
        return Err(Refusal::TargetIsAdministrator);
    }
    if !moderator_is_owner && s.moderator_position <= target.position {
        return Err(Refusal::ModeratorNotAbove(action));
    }
    if (calls_discord(action) || automatic) && s.bot_position <= target.position {
        return Err(Refusal::BotNotAbove(action));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const OWNER: u64 = 1;
    const MODERATOR: u64 = 2;
    const BOT: u64 = 3;
    const TARGET: u64 = 4;

    fn base(action: ActionKind) -> Subject {
        Subject {
            action,
            owner_id: OWNER,
            moderator_id: MODERATOR,
            moderator_permissions: Permissions::BAN_MEMBERS
                | Permissions::KICK_MEMBERS
                | Permissions::MODERATE_MEMBERS,
            moderator_position: 5,
            bot_id: BOT,
            bot_permissions: Permissions::BAN_MEMBERS
                | Permissions::KICK_MEMBERS
                | Permissions::MODERATE_MEMBERS,
            bot_position: 10,
            target_id: TARGET,
            target_member: Some(TargetMember {
                position: 1,
                permissions: Permissions::SEND_MESSAGES,
            }),
        }
    }

    const ALL: [ActionKind; 7] = [
        ActionKind::Ban,
        ActionKind::Unban,
        ActionKind::Softban,
        ActionKind::Kick,
        ActionKind::Timeout,
        ActionKind::Untimeout,
        ActionKind::Warn,
    ];

    #[test]
    fn the_invite_grants_every_permission_an_action_needs() {
        for a in ALL {
            assert!(crate::invite::PERMISSIONS.contains(a.permission()), "{a:?}");
        }
    }

    #[test]
    fn allowed_when_everything_is_right() {
        for a in ALL {
            assert_eq!(check(&base(a)), Ok(()), "{a:?}");
        }
    }

    #[rstest]
    #[case(ActionKind::Ban)]
    #[case(ActionKind::Softban)]
    #[case(ActionKind::Kick)]
    #[case(ActionKind::Timeout)]
    #[case(ActionKind::Untimeout)]
    #[case(ActionKind::Warn)]
    fn self_action(#[case] a: ActionKind) {
        let mut s = base(a);
        s.target_id = MODERATOR;
        assert_eq!(check(&s), Err(Refusal::SelfAction(a)));
    }

    #[rstest]
    #[case(ActionKind::Ban)]
    #[case(ActionKind::Kick)]
    #[case(ActionKind::Timeout)]
    #[case(ActionKind::Warn)]
    fn bot_immune(#[case] a: ActionKind) {
        let mut s = base(a);
        s.target_id = BOT;
        assert_eq!(check(&s), Err(Refusal::TargetIsBot(a)));
    }

    #[rstest]
    #[case(ActionKind::Ban)]
    #[case(ActionKind::Kick)]
    #[case(ActionKind::Timeout)]
    #[case(ActionKind::Warn)]
    #[case(ActionKind::Softban)]
    fn owner_immune(#[case] a: ActionKind) {
        let mut s = base(a);
        s.target_id = OWNER;
        s.moderator_permissions = Permissions::ADMINISTRATOR;
        s.moderator_position = 100;
        assert_eq!(check(&s), Err(Refusal::TargetIsOwner(a)));
    }

    #[rstest]
    #[case(ActionKind::Ban, Permissions::BAN_MEMBERS)]
    #[case(ActionKind::Unban, Permissions::BAN_MEMBERS)]
    #[case(ActionKind::Softban, Permissions::BAN_MEMBERS)]
    #[case(ActionKind::Kick, Permissions::KICK_MEMBERS)]
    #[case(ActionKind::Timeout, Permissions::MODERATE_MEMBERS)]
    #[case(ActionKind::Untimeout, Permissions::MODERATE_MEMBERS)]
    #[case(ActionKind::Warn, Permissions::MODERATE_MEMBERS)]
    fn moderator_missing_permission(#[case] a: ActionKind, #[case] p: Permissions) {
        let mut s = base(a);
        s.moderator_permissions = Permissions::all() - p - Permissions::ADMINISTRATOR;
        assert_eq!(
            check(&s),
            Err(Refusal::MissingPermission {
                party: Party::Moderator,
                permission: p,
                action: a
            })
        );
    }

    #[rstest]
    #[case(ActionKind::Ban, Permissions::BAN_MEMBERS)]
    #[case(ActionKind::Kick, Permissions::KICK_MEMBERS)]
    #[case(ActionKind::Timeout, Permissions::MODERATE_MEMBERS)]
    fn bot_missing_permission(#[case] a: ActionKind, #[case] p: Permissions) {
        let mut s = base(a);
        s.bot_permissions = Permissions::all() - p - Permissions::ADMINISTRATOR;
        assert_eq!(
            check(&s),
            Err(Refusal::MissingPermission {
                party: Party::Bot,
                permission: p,
                action: a
            })
        );
    }

    #[test]
    fn warn_needs_no_bot_permission_or_position() {
        let mut s = base(ActionKind::Warn);
        s.bot_permissions = Permissions::empty();
        s.bot_position = 0;
        assert_eq!(check(&s), Ok(()));
    }

    #[rstest]
    #[case(ActionKind::Ban, 5)]
    #[case(ActionKind::Ban, 6)]
    #[case(ActionKind::Kick, 5)]
    #[case(ActionKind::Timeout, 9)]
    #[case(ActionKind::Warn, 5)]
    #[case(ActionKind::Softban, 5)]
    fn moderator_not_strictly_above(#[case] a: ActionKind, #[case] target_position: i64) {
        let mut s = base(a);
        s.target_member = Some(TargetMember {
            position: target_position,
            permissions: Permissions::empty(),
        });
        assert_eq!(check(&s), Err(Refusal::ModeratorNotAbove(a)));
    }

    #[rstest]
    #[case(ActionKind::Ban, 10)]
    #[case(ActionKind::Kick, 11)]
    #[case(ActionKind::Timeout, 10)]
    #[case(ActionKind::Untimeout, 10)]
    fn bot_not_strictly_above(#[case] a: ActionKind, #[case] target_position: i64) {
        let mut s = base(a);
        s.moderator_position = 50;
        s.target_member = Some(TargetMember {
            position: target_position,
            permissions: Permissions::empty(),
        });
        assert_eq!(check(&s), Err(Refusal::BotNotAbove(a)));
    }

    #[test]
    fn owner_moderator_bypasses_own_hierarchy_but_not_the_bots() {
        let mut s = base(ActionKind::Ban);
        s.moderator_id = OWNER;
        s.moderator_permissions = Permissions::empty();
        s.moderator_position = 0;
        assert_eq!(check(&s), Ok(()));
        s.target_member = Some(TargetMember {
            position: 20,
            permissions: Permissions::empty(),
        });
        assert_eq!(check(&s), Err(Refusal::BotNotAbove(ActionKind::Ban)));
    }

    #[test]
    fn automatic_actions_answer_to_the_bots_rules_only() {
        let mut s = base(ActionKind::Kick);
        s.moderator_id = BOT;
        s.moderator_permissions = s.bot_permissions;
        s.moderator_position = s.bot_position;
        assert_eq!(check(&s), Ok(()));
        s.target_member = Some(TargetMember {
            position: 10,
            permissions: Permissions::empty(),
        });
        assert_eq!(check(&s), Err(Refusal::BotNotAbove(ActionKind::Kick)));
        s.target_id = BOT;
        assert_eq!(check(&s), Err(Refusal::TargetIsBot(ActionKind::Kick)));
    }

    #[test]
    fn administrator_counts_as_every_permission() {
        let mut s = base(ActionKind::Kick);
        s.moderator_permissions = Permissions::ADMINISTRATOR;
        s.bot_permissions = Permissions::ADMINISTRATOR;
        assert_eq!(check(&s), Ok(()));
    }

    #[rstest]
    #[case(ActionKind::Ban, Ok(()))]
    #[case(ActionKind::Unban, Ok(()))]
    #[case(ActionKind::Softban, Ok(()))]
    #[case(ActionKind::Warn, Err(Refusal::NotAMember(ActionKind::Warn)))]
    #[case(ActionKind::Kick, Err(Refusal::NotAMember(ActionKind::Kick)))]
    #[case(ActionKind::Timeout, Err(Refusal::NotAMember(ActionKind::Timeout)))]
    #[case(ActionKind::Untimeout, Err(Refusal::NotAMember(ActionKind::Untimeout)))]
    fn non_members(#[case] a: ActionKind, #[case] want: Result<(), Refusal>) {
        let mut s = base(a);
        s.target_member = None;
        s.moderator_position = 0;
        s.bot_position = 0;
        assert_eq!(check(&s), want);
    }

    #[test]
    fn administrators_cannot_be_timed_out() {
        let mut s = base(ActionKind::Timeout);
        s.target_member = Some(TargetMember {
            position: 1,
            permissions: Permissions::ADMINISTRATOR,
        });
        assert_eq!(check(&s), Err(Refusal::TargetIsAdministrator));
        s.action = ActionKind::Kick;
        assert_eq!(check(&s), Ok(()));
    }

    #[rstest]
    #[case(Refusal::SelfAction(ActionKind::Ban), "you cannot ban yourself")]
    #[case(Refusal::TargetIsBot(ActionKind::Kick), "I will not kick myself")]
    #[case(
        Refusal::TargetIsOwner(ActionKind::Timeout),
        "the server owner cannot be moderated"
    )]
    #[case(
        Refusal::MissingPermission { party: Party::Moderator, permission: Permissions::BAN_MEMBERS, action: ActionKind::Ban },
        "you do not have the Ban Members permission needed to ban"
    )]
    #[case(
        Refusal::MissingPermission { party: Party::Bot, permission: Permissions::MODERATE_MEMBERS, action: ActionKind::Timeout },
        "I do not have the Timeout Members permission needed to time out"
    )]
    #[case(
        Refusal::ModeratorNotAbove(ActionKind::Kick),
        "your highest role must be above the target's highest role to kick them"
    )]
    #[case(
        Refusal::BotNotAbove(ActionKind::Ban),
        "my highest role must be above the target's highest role to ban them; move my role up"
    )]
    fn refusal_text(#[case] r: Refusal, #[case] text: &str) {
        assert_eq!(r.to_string(), text);
    }
}
