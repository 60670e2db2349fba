//! Command definitions: one definition drives the slash command Discord shows and the prefix
//! command parser.

use std::{fmt, sync::Arc, time::Duration};

use twilight_model::{
    application::command::{
        Command, CommandOption, CommandOptionChoice, CommandOptionChoiceValue, CommandOptionType,
        CommandOptionValue, CommandType,
    },
    application::interaction::InteractionContextType,
    guild::Permissions,
    id::{Id, marker::ApplicationMarker},
    oauth::ApplicationIntegrationType,
};

use crate::i18n;

use super::CommandHandler;

/// The kind of value an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionKind {
    /// Free text. As the last option of a prefix command it takes the rest of the line.
    String,
    /// A whole number.
    Integer,
    /// `true`/`false` (prefix also accepts yes/no/on/off).
    Boolean,
    /// A user: `<@123>`, `<@!123>` or a raw id in prefix form.
    User,
    /// A channel: `<#123>` or a raw id in prefix form.
    Channel,
    /// A role: `<@&123>` or a raw id in prefix form.
    Role,
    /// A duration written as text (`10m`, `2h30m`); a string option on Discord's side, one word
    /// in prefix form. Parsing the duration is the command's job.
    Duration,
}

impl OptionKind {
    /// How the kind is named in error messages and help.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::String => "text",
            Self::Integer => "a whole number",
            Self::Boolean => "true or false",
            Self::User => "a user mention or id",
            Self::Channel => "a channel mention or id",
            Self::Role => "a role mention or id",
            Self::Duration => "a duration such as 10m or 2h",
        }
    }

    fn discord(self) -> CommandOptionType {
        match self {
            Self::String | Self::Duration => CommandOptionType::String,
            Self::Integer => CommandOptionType::Integer,
            Self::Boolean => CommandOptionType::Boolean,
            Self::User => CommandOptionType::User,
            Self::Channel => CommandOptionType::Channel,
            Self::Role => CommandOptionType::Role,
        }
    }
}

/// A fixed value an option may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChoiceValue {
    /// For string options.
    String(String),
    /// For integer options.
    Integer(i64),
}

/// One allowed value of an option with choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// What the user sees.
    pub name: String,
    /// What the command receives.
    pub value: ChoiceValue,
}

/// One option of a command or subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDef {
    /// Name (1–32 lowercase letters, digits, `-`, `_`).
    pub name: String,
    /// Description (1–100 characters).
    pub description: String,
    /// Kind of value.
    pub kind: OptionKind,
    /// Whether it must be given.
    pub required: bool,
    /// Allowed values, when fixed (at most 25).
    pub choices: Vec<Choice>,
    /// Smallest allowed integer.
    pub min: Option<i64>,
    /// Largest allowed integer.
    pub max: Option<i64>,
    /// Longest allowed text, in characters.
    pub max_length: Option<u16>,
    /// In the prefix form, given only as `name:value`, never by position (a filter such as
    /// `/purge`'s `contains` would otherwise take the first word of the reason).
    pub named_only: bool,
}

impl OptionDef {
    /// An optional option.
    #[must_use]
    pub fn new(name: impl Into<String>, description: impl Into<String>, kind: OptionKind) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            kind,
            required: false,
            choices: Vec::new(),
            min: None,
            max: None,
            max_length: None,
            named_only: false,
        }
    }

    /// Makes the option required.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Adds a string choice.
    #[must_use]
    pub fn choice(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.choices.push(Choice {
            name: name.into(),
            value: ChoiceValue::String(value.into()),
        });
        self
    }

    /// Adds an integer choice.
    #[must_use]
    pub fn int_choice(mut self, name: impl Into<String>, value: i64) -> Self {
        self.choices.push(Choice {
            name: name.into(),
            value: ChoiceValue::Integer(value),
        });
        self
    }

    /// Bounds an integer option (inclusive).
    #[must_use]
    pub fn range(mut self, min: i64, max: i64) -> Self {
        self.min = Some(min);
        self.max = Some(max);
        self
    }

    /// In the prefix form, takes the option only as `name:value` ([`OptionDef::named_only`]).
    #[must_use]
    pub fn named_only(mut self) -> Self {
        self.named_only = true;
        self
    }

    /// Limits the length of a text option.
    #[must_use]
    pub fn max_length(mut self, max: u16) -> Self {
        self.max_length = Some(max);
        self
    }

    /// Discord's form of the option; `key` is the catalog entry of its command or subcommand
    /// (see [`crate::i18n`]), whose attribute named like the option translates it.
    #[must_use]
    pub fn to_discord(&self, key: &str) -> CommandOption {
        let choices = (!self.choices.is_empty()).then(|| {
            self.choices
                .iter()
                .map(|c| CommandOptionChoice {
                    name: c.name.clone(),
                    name_localizations: None,
                    value: match &c.value {
                        ChoiceValue::String(s) => CommandOptionChoiceValue::String(s.clone()),
                        ChoiceValue::Integer(i) => CommandOptionChoiceValue::Integer(*i),
                    },
                })
                .collect()
        });
        CommandOption {
            autocomplete: None,
            channel_types: None,
            choices,
            description: self.description.clone(),
            description_localizations: i18n::catalogs().localizations(key, Some(&self.name)),
            file_types: None,
            kind: self.kind.discord(),
            max_length: self.max_length,
            max_value: self.max.map(CommandOptionValue::Integer),
            min_length: None,
            min_value: self.min.map(CommandOptionValue::Integer),
            name: self.name.clone(),
            name_localizations: None,
            options: None,
            required: Some(self.required),
        }
    }

    /// How the option appears in usage lines: `<user>` or `[reason]`.
    #[must_use]
    pub fn usage(&self) -> String {
        if self.named_only {
            format!("[{}:…]", self.name)
        } else if self.required {
            format!("<{}>", self.name)
        } else {
            format!("[{}]", self.name)
        }
    }
}

/// A subcommand (`/automod enable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubcommandDef {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Options, in prefix order (required ones first).
    pub options: Vec<OptionDef>,
}

impl SubcommandDef {
    /// A subcommand without options.
    #[must_use]
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            options: Vec::new(),
        }
    }

    /// Adds an option.
    #[must_use]
    pub fn option(mut self, option: OptionDef) -> Self {
        self.options.push(option);
        self
    }
}

/// Where Discord shows a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CommandKind {
    /// A slash command (also run as a prefix command).
    ChatInput,
    /// An entry of a user's context menu (Apps → …); its handler gets the user as `user`.
    User,
    /// An entry of a message's context menu; its handler gets `message` (the id, as text),
    /// `author` and `content` (see [`super::menu`]).
    Message,
}

impl CommandKind {
    fn discord(self) -> CommandType {
        match self {
            Self::ChatInput => CommandType::ChatInput,
            Self::User => CommandType::User,
            Self::Message => CommandType::Message,
        }
    }

    /// The kind of a command Discord sent, if Kyuta has such commands.
    #[must_use]
    pub fn from_discord(kind: CommandType) -> Option<Self> {
        match kind {
            CommandType::ChatInput => Some(Self::ChatInput),
            CommandType::User => Some(Self::User),
            CommandType::Message => Some(Self::Message),
            _ => None,
        }
    }
}

/// A command: what Discord shows, how it is parsed, who may run it, and its handler.
#[derive(Clone)]
pub struct CommandDef {
    /// Slash command or context-menu entry.
    pub kind: CommandKind,
    /// Name: for slash commands 1–32 lowercase letters, digits, `-`, `_`; for context-menu
    /// entries 1–32 characters as shown (`Timeout 1h`).
    pub name: String,
    /// Description (1–100 characters; empty for context-menu entries, which Discord shows
    /// without one).
    pub description: String,
    /// Options, in prefix order (required ones first). Empty when there are subcommands.
    pub options: Vec<OptionDef>,
    /// Subcommands; the first word of a prefix command picks one.
    pub subcommands: Vec<SubcommandDef>,
    /// The subcommand a prefix command runs when its first word names none (`k!case 12` is
    /// `k!case show 12`). Slash commands always name theirs.
    pub default_subcommand: Option<String>,
    /// Permissions a member needs (Discord hides the command from others; checked again at
    /// run time for both slash and prefix).
    pub default_member_permissions: Option<Permissions>,
    /// When set, a member needs any one of these at run time instead of every permission of
    /// [`CommandDef::default_member_permissions`] (Discord can only hide a command from members
    /// who lack some of one set; see [`CommandDef::visible_to_any`]).
    pub run_with_any: Option<Permissions>,
    /// Per-user cooldown.
    pub cooldown: Option<Duration>,
    /// Whether replies are ephemeral unless the reply says otherwise.
    pub ephemeral: bool,
    /// Whether the command only runs in a guild.
    pub guild_only: bool,
    /// Help category (e.g. `General`, `Moderation`).
    pub category: String,
    /// The handler.
    pub handler: Arc<dyn CommandHandler>,
}

impl fmt::Debug for CommandDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandDef")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("options", &self.options)
            .field("subcommands", &self.subcommands)
            .field(
                "default_member_permissions",
                &self.default_member_permissions,
            )
            .field("run_with_any", &self.run_with_any)
            .field("cooldown", &self.cooldown)
            .field("ephemeral", &self.ephemeral)
            .field("guild_only", &self.guild_only)
            .finish_non_exhaustive()
    }
}

impl CommandDef {
    /// A guild-only command in the `General` category, no options, no permissions needed.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        handler: impl CommandHandler,
    ) -> Self {
        Self {
            kind: CommandKind::ChatInput,
            name: name.into(),
            description: description.into(),
            options: Vec::new(),
            subcommands: Vec::new(),
            default_subcommand: None,
            default_member_permissions: None,
            run_with_any: None,
            cooldown: None,
            ephemeral: false,
            guild_only: true,
            category: "General".into(),
            handler: Arc::new(handler),
        }
    }

    /// A guild-only context-menu entry of `kind` (user or message), in the `Context menus`
    /// category, with no permissions needed.
    #[must_use]
    pub fn menu(kind: CommandKind, name: impl Into<String>, handler: impl CommandHandler) -> Self {
        Self {
            kind,
            ..Self::new(name, "", handler).category("Context menus")
        }
    }

    /// Adds an option.
    #[must_use]
    pub fn option(mut self, option: OptionDef) -> Self {
        self.options.push(option);
        self
    }

    /// Adds a subcommand.
    #[must_use]
    pub fn subcommand(mut self, sub: SubcommandDef) -> Self {
        self.subcommands.push(sub);
        self
    }

    /// Makes `name` (one of the subcommands) the one a prefix command runs when its first
    /// word names none ([`CommandDef::default_subcommand`]).
    #[must_use]
    pub fn default_subcommand(mut self, name: impl Into<String>) -> Self {
        self.default_subcommand = Some(name.into());
        self
    }

    /// Permissions a member needs.
    #[must_use]
    pub fn permissions(mut self, permissions: Permissions) -> Self {
        self.default_member_permissions = Some(permissions);
        self
    }

    /// Shown by Discord to members with every permission of `shown_to` (a server can widen
    /// that in its Integrations settings), and run for anyone holding any one of `any` (which
    /// should contain `shown_to`): for commands every kind of moderator uses, such as `/cases`.
    #[must_use]
    pub fn visible_to_any(mut self, shown_to: Permissions, any: Permissions) -> Self {
        self.default_member_permissions = Some(shown_to);
        self.run_with_any = Some(any | shown_to);
        self
    }

    /// Per-user cooldown.
    #[must_use]
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = Some(cooldown);
        self
    }

    /// Replies are ephemeral by default.
    #[must_use]
    pub fn ephemeral(mut self) -> Self {
        self.ephemeral = true;
        self
    }

    /// The command also runs in direct messages.
    #[must_use]
    pub fn allow_dms(mut self) -> Self {
        self.guild_only = false;
        self
    }

    /// Help category.
    #[must_use]
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = category.into();
        self
    }

    /// The subcommand named `name`.
    #[must_use]
    pub fn find_subcommand(&self, name: &str) -> Option<&SubcommandDef> {
        self.subcommands
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// Usage line for help: `ban <user> [reason]`, or one line per subcommand.
    #[must_use]
    pub fn usage(&self) -> Vec<String> {
        if self.subcommands.is_empty() {
            let mut line = self.name.clone();
            for o in &self.options {
                line.push(' ');
                line.push_str(&o.usage());
            }
            vec![line]
        } else {
            self.subcommands
                .iter()
                .map(|s| {
                    let mut line = format!("{} {}", self.name, s.name);
                    for o in &s.options {
                        line.push(' ');
                        line.push_str(&o.usage());
                    }
                    line
                })
                .collect()
        }
    }

    /// The catalog entry translating this command's description (`cmd-<name>`); its
    /// attributes translate the options.
    #[must_use]
    pub fn catalog_key(&self) -> String {
        format!("cmd-{}", self.name)
    }

    /// The catalog entry of subcommand `sub` (`cmd-<name>-<sub>`).
    #[must_use]
    pub fn subcommand_catalog_key(&self, sub: &str) -> String {
        format!("cmd-{}-{sub}", self.name)
    }

    /// Discord's form of the command (for bulk overwrite), with the descriptions in every
    /// language Kyuta speaks.
    #[must_use]
    pub fn to_discord(&self, application_id: Option<Id<ApplicationMarker>>) -> Command {
        let catalogs = i18n::catalogs();
        let menu = self.kind != CommandKind::ChatInput;
        let key = self.catalog_key();
        let options = if self.subcommands.is_empty() {
            self.options.iter().map(|o| o.to_discord(&key)).collect()
        } else {
            self.subcommands
                .iter()
                .map(|s| CommandOption {
                    autocomplete: None,
                    channel_types: None,
                    choices: None,
                    description: s.description.clone(),
                    description_localizations: catalogs
                        .localizations(&self.subcommand_catalog_key(&s.name), None),
                    file_types: None,
                    kind: CommandOptionType::SubCommand,
                    max_length: None,
                    max_value: None,
                    min_length: None,
                    min_value: None,
                    name: s.name.clone(),
                    name_localizations: None,
                    options: Some({
                        let key = self.subcommand_catalog_key(&s.name);
                        s.options.iter().map(|o| o.to_discord(&key)).collect()
                    }),
                    required: None,
                })
                .collect()
        };
        let contexts = if self.guild_only {
            vec![InteractionContextType::Guild]
        } else {
            vec![InteractionContextType::Guild, InteractionContextType::BotDm]
        };
        #[allow(deprecated)]
        Command {
            application_id,
            contexts: Some(contexts),
            default_member_permissions: self.default_member_permissions,
            description: self.description.clone(),
            description_localizations: if menu {
                None
            } else {
                catalogs.localizations(&key, None)
            },
            dm_permission: None,
            guild_id: None,
            id: None,
            integration_types: Some(vec![ApplicationIntegrationType::GuildInstall]),
            kind: self.kind.discord(),
            name: self.name.clone(),
            name_localizations: None,
            nsfw: None,
            options,
            version: Id::new(1),
        }
    }
}
