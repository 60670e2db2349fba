//! The permission checks of commands, and the names they give permissions in refusals.

use twilight_model::guild::Permissions;

use super::super::CommandError;

/// Names of the permissions in `p`, for messages, as Discord's permission settings call
/// them (`manage server`, `timeout members`, `kick members`).
#[must_use]
pub fn permission_names(p: Permissions) -> String {
    p.iter_names()
        .map(|(n, _)| match n {
            "MANAGE_GUILD" => "manage server".to_owned(),
            "MODERATE_MEMBERS" => "timeout members".to_owned(),
            "MANAGE_GUILD_EXPRESSIONS" => "manage expressions".to_owned(),
            _ => n.to_lowercase().replace('_', " "),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses when `have` lacks any of `needed` (administrators have every permission). Unknown
/// permissions are refused: the check never passes by default.
pub fn check_permissions(
    needed: Permissions,
    have: Option<Permissions>,
) -> Result<(), CommandError> {
    let Some(have) = have else {
        return Err(CommandError::user(
            "I could not verify your permissions right now; try the slash command or again shortly",
        ));
    };
    if have.contains(Permissions::ADMINISTRATOR) || have.contains(needed) {
        return Ok(());
    }
    Err(CommandError::MissingPermissions {
        missing: permission_names(needed - have),
    })
}

/// Refuses when `have` holds none of `any` (administrators have every permission). Unknown
/// permissions are refused.
pub fn check_any_permission(
    any: Permissions,
    have: Option<Permissions>,
) -> Result<(), CommandError> {
    let Some(have) = have else {
        return check_permissions(any, None);
    };
    if have.contains(Permissions::ADMINISTRATOR) || have.intersects(any) {
        return Ok(());
    }
    Err(CommandError::MissingPermissions {
        missing: any_permission_names(any),
    })
}

/// `a, b or c`: the names of the permissions in `p`, of which one is enough.
#[must_use]
pub fn any_permission_names(p: Permissions) -> String {
    let names: Vec<String> = p.iter().map(permission_names).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_checks() {
        let ban = Permissions::BAN_MEMBERS;
        assert!(
            check_permissions(
                ban,
                Some(Permissions::BAN_MEMBERS | Permissions::KICK_MEMBERS)
            )
            .is_ok()
        );
        assert!(check_permissions(ban, Some(Permissions::ADMINISTRATOR)).is_ok());
        let e = check_permissions(
            ban | Permissions::KICK_MEMBERS,
            Some(Permissions::KICK_MEMBERS),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "you need the ban members permission to use this command"
        );
        assert!(check_permissions(ban, None).is_err());
        let any =
            Permissions::BAN_MEMBERS | Permissions::KICK_MEMBERS | Permissions::MODERATE_MEMBERS;
        assert!(check_any_permission(any, Some(Permissions::KICK_MEMBERS)).is_ok());
        assert!(check_any_permission(any, Some(Permissions::ADMINISTRATOR)).is_ok());
        assert!(check_any_permission(any, None).is_err());
        assert_eq!(
            check_any_permission(any, Some(Permissions::SEND_MESSAGES))
                .unwrap_err()
                .to_string(),
            "you need the kick members, ban members or timeout members permission to use this command"
        );
        assert_eq!(
            permission_names(Permissions::MANAGE_GUILD | Permissions::MODERATE_MEMBERS),
            "manage server, timeout members"
        );
    }
}
