//! The command registry: every command, slash and prefix, from one definition each.

use std::collections::BTreeMap;

use twilight_model::{
    application::{
        command::Command,
        interaction::{application_command::CommandData, modal::ModalInteractionData},
    },
    id::{Id, marker::ApplicationMarker},
};

use super::{
    args::Args,
    def::{CommandDef, CommandKind, OptionDef, OptionKind},
    menu::{self, MenuTarget},
    parse::{ArgError, parse_prefix_args, parse_slash_args, split_prefix},
};

/// Entries Discord allows in each context menu (user, message) of an application.
pub const MAX_MENU_ENTRIES: usize = 15;

/// A definition the registry refuses (a programming error, caught by the registry's tests).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two commands with one name.
    #[error("command `{0}` is registered twice")]
    Duplicate(String),
    /// A name Discord does not accept.
    #[error("`{0}` is not a valid command or option name (1–32 of a-z, 0-9, '-', '_')")]
    BadName(String),
    /// A description Discord does not accept.
    #[error("the description of `{0}` must be 1–100 characters")]
    BadDescription(String),
    /// Discord's limits or ordering rules broken.
    #[error("`{command}`: {problem}")]
    Invalid {
        /// Command name.
        command: String,
        /// What is wrong.
        problem: String,
    },
}

/// A command found and its arguments parsed.
#[derive(Debug)]
pub struct Invocation<'a> {
    /// The command.
    pub def: &'a CommandDef,
    /// Its arguments.
    pub args: Args,
}

/// All commands.
#[derive(Debug, Default)]
pub struct Registry {
    commands: BTreeMap<String, CommandDef>,
    /// Context-menu entries, by kind and name (a menu entry may share a slash command's name).
    menus: BTreeMap<(CommandKind, String), CommandDef>,
}

fn valid_name(s: &str) -> bool {
    (1..=32).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn check_options(command: &str, options: &[OptionDef]) -> Result<(), RegistryError> {
    let invalid = |problem: String| RegistryError::Invalid {
        command: command.to_owned(),
        problem,
    };
    if options.len() > 25 {
        return Err(invalid("more than 25 options".into()));
    }
    let mut seen_optional = false;
    for (i, o) in options.iter().enumerate() {
        if !valid_name(&o.name) {
            return Err(RegistryError::BadName(o.name.clone()));
        }
        if !(1..=100).contains(&o.description.chars().count()) {
            return Err(RegistryError::BadDescription(format!(
                "{command} {}",
                o.name
            )));
        }
        if options[..i].iter().any(|p| p.name == o.name) {
            return Err(invalid(format!("option `{}` appears twice", o.name)));
        }
        if o.required && seen_optional {
            return Err(invalid(format!(
                "required option `{}` follows an optional one",
                o.name
            )));
        }
        seen_optional |= !o.required;
        if o.choices.len() > 25 {
            return Err(invalid(format!(
                "option `{}` has more than 25 choices",
                o.name
            )));
        }
        if !o.choices.is_empty() && !matches!(o.kind, OptionKind::String | OptionKind::Integer) {
            return Err(invalid(format!(
                "option `{}`: only text and integers take choices",
                o.name
            )));
        }
    }
    Ok(())
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a command, checking it against Discord's rules.
    pub fn register(&mut self, def: CommandDef) -> Result<&mut Self, RegistryError> {
        if def.kind != CommandKind::ChatInput {
            return self.register_menu(def);
        }
        if !valid_name(&def.name) {
            return Err(RegistryError::BadName(def.name));
        }
        if !(1..=100).contains(&def.description.chars().count()) {
            return Err(RegistryError::BadDescription(def.name));
        }
        if self.commands.contains_key(&def.name) {
            return Err(RegistryError::Duplicate(def.name));
        }
        if !def.subcommands.is_empty() && !def.options.is_empty() {
            return Err(RegistryError::Invalid {
                command: def.name,
                problem: "a command has either options or subcommands, not both".into(),
            });
        }
        check_options(&def.name, &def.options)?;
        if def.subcommands.len() > 25 {
            return Err(RegistryError::Invalid {
                command: def.name,
                problem: "more than 25 subcommands".into(),
            });
        }
        for s in &def.subcommands {
            if !valid_name(&s.name) {
                return Err(RegistryError::BadName(s.name.clone()));
            }
            if !(1..=100).contains(&s.description.chars().count()) {
                return Err(RegistryError::BadDescription(format!(
                    "{} {}",
                    def.name, s.name
                )));
            }
            check_options(&format!("{} {}", def.name, s.name), &s.options)?;
        }
        if self.commands.len() >= 100 {
            return Err(RegistryError::Invalid {
                command: def.name,
                problem: "Discord allows at most 100 global commands".into(),
            });
        }
        self.commands.insert(def.name.clone(), def);
        Ok(self)
    }

    fn register_menu(&mut self, def: CommandDef) -> Result<&mut Self, RegistryError> {
        let invalid = |def: CommandDef, problem: &str| RegistryError::Invalid {
            command: def.name,
            problem: problem.into(),
        };
        let len = def.name.chars().count();
        if !(1..=32).contains(&len) || def.name.trim() != def.name {
            return Err(RegistryError::BadName(def.name));
        }
        if !def.description.is_empty() {
            return Err(invalid(def, "a context-menu entry has no description"));
        }
        if !def.options.is_empty() || !def.subcommands.is_empty() {
            return Err(invalid(def, "a context-menu entry takes no options"));
        }
        let key = (def.kind, def.name.clone());
        if self.menus.contains_key(&key) {
            return Err(RegistryError::Duplicate(def.name));
        }
        if self.menus.keys().filter(|(k, _)| *k == def.kind).count() >= MAX_MENU_ENTRIES {
            return Err(invalid(
                def,
                "Discord allows at most 15 entries in each context menu",
            ));
        }
        self.menus.insert(key, def);
        Ok(self)
    }

    /// The slash command named `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&CommandDef> {
        self.commands.get(name)
    }

    /// The context-menu entry of `kind` named `name`.
    #[must_use]
    pub fn get_menu(&self, kind: CommandKind, name: &str) -> Option<&CommandDef> {
        self.menus.get(&(kind, name.to_owned()))
    }

    /// Every slash command, by name (context-menu entries are [`Registry::menus`]).
    pub fn iter(&self) -> impl Iterator<Item = &CommandDef> {
        self.commands.values()
    }

    /// Every context-menu entry: the user menu's, then the message menu's, by name.
    pub fn menus(&self) -> impl Iterator<Item = &CommandDef> {
        self.menus.values()
    }

    /// Number of commands.
    #[must_use]
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Discord's form of every command and context-menu entry, for a bulk overwrite.
    #[must_use]
    pub fn discord_commands(&self, application_id: Option<Id<ApplicationMarker>>) -> Vec<Command> {
        self.iter()
            .chain(self.menus())
            .map(|d| d.to_discord(application_id))
            .collect()
    }

    /// Parses a message as a prefix command. `None`: not a command of ours (no prefix, or an
    /// unknown name — unknown names are ignored so other bots' commands are not answered).
    #[must_use]
    pub fn parse_prefix(
        &self,
        content: &str,
        prefix: &str,
    ) -> Option<(&CommandDef, Result<Args, ArgError>)> {
        let (name, rest) = split_prefix(content, prefix)?;
        let def = self.get(&name)?;
        Some((def, parse_prefix_args(def, rest)))
    }

    /// Parses a slash command's or a context-menu entry's data. `None`: the command is not
    /// registered here.
    #[must_use]
    pub fn parse_slash(&self, data: &CommandData) -> Option<(&CommandDef, Result<Args, ArgError>)> {
        match CommandKind::from_discord(data.kind)? {
            CommandKind::ChatInput => {
                let def = self.get(&data.name)?;
                Some((def, parse_slash_args(def, &data.options)))
            }
            kind => {
                let def = self.get_menu(kind, &data.name)?;
                Some((def, menu::target_of(kind, data).map(MenuTarget::args)))
            }
        }
    }

    /// Parses a submitted form of a context-menu entry ([`menu::from_modal`]). `None`: not
    /// a form of an entry registered here.
    #[must_use]
    pub fn parse_modal(
        &self,
        data: &ModalInteractionData,
    ) -> Option<(&CommandDef, Result<Args, ArgError>)> {
        let (kind, entry, args) = menu::from_modal(data)?;
        Some((self.get_menu(kind, &entry)?, Ok(args)))
    }
}
