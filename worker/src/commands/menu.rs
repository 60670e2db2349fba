//! Context-menu entries (a user's or a message's Apps menu) and the forms they open.
//!
//! An entry is a [`CommandDef`] of kind [`CommandKind::User`] or [`CommandKind::Message`]
//! with a [`CommandHandler`] like any command. Its arguments are its target:
//! - a user entry gets `user`;
//! - a message entry gets `message` (the id, as text), `author` and, when Discord sent it,
//!   `content`.
//!
//! An entry that needs words from the moderator (a reason, a note) answers with a
//! [`Modal`]: Discord shows a form, and its submission comes back as a MODAL_SUBMIT
//! interaction that runs the same entry again, with the words as `text` and `submitted` set.
//! The form's custom id carries the entry and its target (`menu:u:Warn:123`,
//! `menu:m:Delete & warn:456:123`), so nothing is kept between the two interactions.
//!
//! [`Delegate`] is the usual entry: it runs a slash command (`/warn`, `/timeout`) on the
//! target, asking first for the text the command needs.

use twilight_model::{
    application::interaction::{
        application_command::CommandData,
        modal::{ModalInteractionComponent, ModalInteractionData},
    },
    id::{
        Id,
        marker::{MessageMarker, UserMarker},
    },
};

use super::{
    ArgValue, Args, CommandContext, CommandError, CommandHandler, Reply,
    def::{CommandDef, CommandKind},
    parse::ArgError,
};

/// The argument holding a form's text.
pub const TEXT: &str = "text";
/// The argument set (to `true`) when the entry runs from its submitted form.
pub const SUBMITTED: &str = "submitted";
/// The custom id of the form's one text field.
const FIELD: &str = "text";
/// Longest form title Discord shows.
pub const MAX_TITLE: usize = 45;
/// Longest field label Discord shows.
pub const MAX_LABEL: usize = 45;
/// Longest text a form field takes.
pub const MAX_FIELD: u16 = 4000;

/// What a context-menu entry was used on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuTarget {
    /// A user (user menu).
    User(Id<UserMarker>),
    /// A message (message menu).
    Message {
        /// The message.
        id: Id<MessageMarker>,
        /// Its author.
        author: Id<UserMarker>,
        /// Its text, when known (Discord sends it with the entry, not with the form).
        content: Option<String>,
    },
}

impl MenuTarget {
    /// The entry's arguments (see the module docs).
    #[must_use]
    pub fn args(self) -> Args {
        match self {
            Self::User(u) => Args::new().with("user", ArgValue::User(u)),
            Self::Message {
                id,
                author,
                content,
            } => {
                let args = Args::new()
                    .with("message", ArgValue::String(id.to_string()))
                    .with("author", ArgValue::User(author));
                match content {
                    Some(c) => args.with("content", ArgValue::String(c)),
                    None => args,
                }
            }
        }
    }

    /// The target named by an entry's arguments.
    #[must_use]
    pub fn from_args(args: &Args) -> Option<Self> {
        if let Some(m) = args.string("message") {
            return Some(Self::Message {
                id: m.parse().ok()?,
                author: args.user("author")?,
                content: args.string("content").map(str::to_owned),
            });
        }
        args.user("user").map(Self::User)
    }

    /// The user acted on: the user, or the message's author.
    #[must_use]
    pub fn user(&self) -> Id<UserMarker> {
        match self {
            Self::User(u) | Self::Message { author: u, .. } => *u,
        }
    }
}

fn missing(option: &str) -> ArgError {
    ArgError::Missing {
        option: option.into(),
        expected: "the target Discord sends with a context-menu entry",
        usage: "the entry in the Apps menu".into(),
    }
}

/// The target of a context-menu entry of `kind` from Discord's interaction data.
pub fn target_of(kind: CommandKind, data: &CommandData) -> Result<MenuTarget, ArgError> {
    let target = data.target_id.ok_or_else(|| missing("target_id"))?;
    match kind {
        CommandKind::Message => {
            let id = target.cast::<MessageMarker>();
            let message = data
                .resolved
                .as_ref()
                .and_then(|r| r.messages.get(&id))
                .ok_or_else(|| missing("resolved message"))?;
            Ok(MenuTarget::Message {
                id,
                author: message.author.id,
                content: Some(message.content.clone()),
            })
        }
        _ => Ok(MenuTarget::User(target.cast())),
    }
}

/// A form with one text field, shown instead of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modal {
    /// The form's custom id (the entry and its target).
    pub custom_id: String,
    /// Title (at most [`MAX_TITLE`] characters).
    pub title: String,
    /// The field's label (at most [`MAX_LABEL`] characters).
    pub label: String,
    /// Whether the field must be filled in.
    pub required: bool,
    /// Longest text the field takes.
    pub max_length: u16,
    /// Grey hint shown in the empty field.
    pub placeholder: Option<String>,
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

impl Modal {
    /// A form for the entry `entry` used on `target`.
    #[must_use]
    pub fn new(entry: &str, target: &MenuTarget, title: &str, label: &str) -> Self {
        Self {
            custom_id: custom_id(entry, target),
            title: short(title, MAX_TITLE),
            label: short(label, MAX_LABEL),
            required: false,
            max_length: MAX_FIELD,
            placeholder: None,
        }
    }

    /// The field must be filled in.
    #[must_use]
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// Longest text the field takes (at most [`MAX_FIELD`]).
    #[must_use]
    pub fn max_length(mut self, max: u16) -> Self {
        self.max_length = max.clamp(1, MAX_FIELD);
        self
    }

    /// The grey hint in the empty field.
    #[must_use]
    pub fn placeholder(mut self, text: &str) -> Self {
        self.placeholder = Some(short(text, 100));
        self
    }

    /// Discord's form of the form's one field: a label around a text input.
    #[must_use]
    #[allow(deprecated)] // `TextInput::label`: the label is the Label component's, as Discord asks
    pub fn components(&self) -> Vec<twilight_model::channel::message::Component> {
        use twilight_model::channel::message::{
            Component,
            component::{Label, TextInput, TextInputStyle},
        };
        vec![Component::Label(Label {
            id: None,
            label: self.label.clone(),
            description: None,
            component: Box::new(Component::TextInput(TextInput {
                id: None,
                custom_id: FIELD.into(),
                label: None,
                max_length: Some(self.max_length),
                min_length: None,
                placeholder: self.placeholder.clone(),
                required: Some(self.required),
                style: TextInputStyle::Paragraph,
                value: None,
            })),
        })]
    }
}

/// The custom id of a form opened by entry `entry` on `target`: `menu:u:{entry}:{user}` or
/// `menu:m:{entry}:{message}:{author}` (at most 100 characters, as entry names are at most
/// 32).
#[must_use]
pub fn custom_id(entry: &str, target: &MenuTarget) -> String {
    match target {
        MenuTarget::User(u) => format!("menu:u:{entry}:{u}"),
        MenuTarget::Message { id, author, .. } => format!("menu:m:{entry}:{id}:{author}"),
    }
}

/// The entry and target a form's custom id names, or `None` when it is not one of ours.
#[must_use]
pub fn parse_custom_id(id: &str) -> Option<(CommandKind, String, MenuTarget)> {
    let rest = id.strip_prefix("menu:")?;
    let (kind, rest) = rest.split_once(':')?;
    match kind {
        "u" => {
            let (entry, user) = rest.rsplit_once(':')?;
            Some((
                CommandKind::User,
                entry.to_owned(),
                MenuTarget::User(Id::new_checked(user.parse().ok()?)?),
            ))
        }
        "m" => {
            let (rest, author) = rest.rsplit_once(':')?;
            let (entry, message) = rest.rsplit_once(':')?;
            Some((
                CommandKind::Message,
                entry.to_owned(),
                MenuTarget::Message {
                    id: Id::new_checked(message.parse().ok()?)?,
                    author: Id::new_checked(author.parse().ok()?)?,
                    content: None,
                },
            ))
        }
        _ => None,
    }
}

fn field_value(components: &[ModalInteractionComponent]) -> Option<&str> {
    components.iter().find_map(|c| match c {
        ModalInteractionComponent::TextInput(t) if t.custom_id == FIELD => Some(t.value.as_str()),
        ModalInteractionComponent::Label(l) => field_value(std::slice::from_ref(&*l.component)),
        ModalInteractionComponent::ActionRow(r) => field_value(&r.components),
        _ => None,
    })
}

/// The entry a submitted form runs, and its arguments: the target, `submitted`, and the text
/// (trimmed; absent when left empty). `None` when the form is not one of ours.
#[must_use]
pub fn from_modal(data: &ModalInteractionData) -> Option<(CommandKind, String, Args)> {
    let (kind, entry, target) = parse_custom_id(&data.custom_id)?;
    let mut args = target.args().with(SUBMITTED, ArgValue::Boolean(true));
    if let Some(text) = field_value(&data.components).map(str::trim)
        && !text.is_empty()
    {
        args = args.with(TEXT, ArgValue::String(text.to_owned()));
    }
    Some((kind, entry, args))
}

/// What a [`Delegate`] asks for before it runs its command.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The form's title.
    pub title: String,
    /// The field's label.
    pub label: String,
    /// The command's option the text goes into (`reason`, `text`); whether the field is
    /// required and how long it may be follow that option.
    pub into: String,
}

/// A context-menu entry that runs slash command `command` on its target (the target user,
/// or the message's author, as `user`), with `fixed` arguments, after asking for `ask`.
#[derive(Debug, Clone)]
pub struct Delegate {
    /// The slash command run.
    pub command: String,
    /// Arguments always given (`duration: 1h`).
    pub fixed: Vec<(String, ArgValue)>,
    /// The text asked for first, if any.
    pub ask: Option<Ask>,
}

impl Delegate {
    /// An entry running `command` on the target.
    #[must_use]
    pub fn new(command: &str) -> Self {
        Self {
            command: command.into(),
            fixed: Vec::new(),
            ask: None,
        }
    }

    /// Always gives `name: value`.
    #[must_use]
    pub fn with(mut self, name: &str, value: ArgValue) -> Self {
        self.fixed.push((name.into(), value));
        self
    }

    /// Asks for the text of option `into` first, in a form titled `title`.
    #[must_use]
    pub fn asking(mut self, into: &str, title: &str, label: &str) -> Self {
        self.ask = Some(Ask {
            title: title.into(),
            label: label.into(),
            into: into.into(),
        });
        self
    }

    fn target_def<'r>(&self, ctx: &'r CommandContext) -> Result<&'r CommandDef, CommandError> {
        ctx.registry().get(&self.command).ok_or_else(|| {
            CommandError::Internal(format!("/{} is not registered", self.command).into())
        })
    }
}

#[async_trait::async_trait]
impl CommandHandler for Delegate {
    async fn run(&self, ctx: &CommandContext, args: &Args) -> Result<Reply, CommandError> {
        let target = MenuTarget::from_args(args).ok_or_else(|| {
            CommandError::Internal("a context-menu entry without a target".into())
        })?;
        let def = self.target_def(ctx)?;
        let mut run = Args::new().with("user", ArgValue::User(target.user()));
        for (name, value) in &self.fixed {
            run = run.with(name.clone(), value.clone());
        }
        if let Some(ask) = &self.ask {
            let option = def.options.iter().find(|o| o.name == ask.into);
            match args.string(TEXT) {
                Some(text) => {
                    let max = option
                        .and_then(|o| o.max_length)
                        .map_or(usize::MAX, usize::from);
                    run = run.with(ask.into.clone(), ArgValue::String(short(text, max)));
                }
                None if args.boolean(SUBMITTED) == Some(true) => {
                    if option.is_some_and(|o| o.required) {
                        return Err(ArgError::Missing {
                            option: ask.into.clone(),
                            expected: "text",
                            usage: format!("the {} form", ctx.command),
                        }
                        .into());
                    }
                }
                None => {
                    let modal = Modal::new(&ctx.command, &target, &ask.title, &ask.label)
                        .required(option.is_some_and(|o| o.required))
                        .max_length(option.and_then(|o| o.max_length).unwrap_or(MAX_FIELD));
                    return Ok(Reply::modal(modal));
                }
            }
        }
        def.handler.run(ctx, &run).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip() {
        let user = MenuTarget::User(Id::new(123));
        let id = custom_id("Timeout 1h", &user);
        assert_eq!(id, "menu:u:Timeout 1h:123");
        assert_eq!(
            parse_custom_id(&id),
            Some((CommandKind::User, "Timeout 1h".into(), user))
        );
        let message = MenuTarget::Message {
            id: Id::new(456),
            author: Id::new(789),
            content: Some("hello".into()),
        };
        let id = custom_id("Delete & warn", &message);
        assert_eq!(id, "menu:m:Delete & warn:456:789");
        let (kind, entry, parsed) = parse_custom_id(&id).unwrap();
        assert_eq!(
            (kind, entry.as_str()),
            (CommandKind::Message, "Delete & warn")
        );
        // The content is not in the id: the form's submission does not carry it.
        assert_eq!(
            parsed,
            MenuTarget::Message {
                id: Id::new(456),
                author: Id::new(789),
                content: None
            }
        );
        // The longest entry name and ids fit Discord's 100 characters.
        let long = "x".repeat(32);
        let big = MenuTarget::Message {
            id: Id::new(u64::MAX),
            author: Id::new(u64::MAX),
            content: None,
        };
        assert!(custom_id(&long, &big).chars().count() <= 100);
    }

    #[test]
    fn foreign_and_broken_ids_are_not_ours() {
        for id in [
            "",
            "menu:",
            "menu:u:Warn",
            "menu:u:Warn:0",
            "menu:u:Warn:abc",
            "menu:m:Report:1",
            "menu:x:Warn:1",
            "other:u:Warn:1",
        ] {
            assert_eq!(parse_custom_id(id), None, "{id}");
        }
    }

    #[test]
    fn targets_become_arguments_and_back() {
        for t in [
            MenuTarget::User(Id::new(5)),
            MenuTarget::Message {
                id: Id::new(6),
                author: Id::new(7),
                content: Some("hi".into()),
            },
        ] {
            assert_eq!(MenuTarget::from_args(&t.clone().args()), Some(t));
        }
    }

    #[test]
    fn modal_text_is_shortened_to_discord_limits() {
        let m = Modal::new(
            "Warn",
            &MenuTarget::User(Id::new(1)),
            &"t".repeat(80),
            &"l".repeat(80),
        );
        assert_eq!(m.title.chars().count(), MAX_TITLE);
        assert_eq!(m.label.chars().count(), MAX_LABEL);
        assert_eq!(m.clone().max_length(9000).max_length, MAX_FIELD);
    }
}
