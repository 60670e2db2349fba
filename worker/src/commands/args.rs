//! Parsed, validated command arguments.

use twilight_model::id::{
    Id,
    marker::{ChannelMarker, RoleMarker, UserMarker},
};

/// One argument value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgValue {
    /// Text (also durations, unparsed).
    String(String),
    /// A whole number.
    Integer(i64),
    /// A boolean.
    Boolean(bool),
    /// A user.
    User(Id<UserMarker>),
    /// A channel.
    Channel(Id<ChannelMarker>),
    /// A role.
    Role(Id<RoleMarker>),
}

/// The arguments of one invocation, checked against the command's definition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    subcommand: Option<String>,
    values: Vec<(String, ArgValue)>,
}

impl Args {
    /// No arguments.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the subcommand (builder form, e.g. for tests).
    #[must_use]
    pub fn with_subcommand(mut self, name: impl Into<String>) -> Self {
        self.subcommand = Some(name.into());
        self
    }

    /// Adds a value (builder form, e.g. for tests).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: ArgValue) -> Self {
        self.set(name.into(), value);
        self
    }

    pub(crate) fn set(&mut self, name: String, value: ArgValue) {
        if let Some(slot) = self.values.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else {
            self.values.push((name, value));
        }
    }

    pub(crate) fn set_subcommand(&mut self, name: String) {
        self.subcommand = Some(name);
    }

    /// The chosen subcommand, if the command has subcommands.
    #[must_use]
    pub fn subcommand(&self) -> Option<&str> {
        self.subcommand.as_deref()
    }

    /// The raw value of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&ArgValue> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// All values, in the order they were given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ArgValue)> {
        self.values.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// A text (or duration) option.
    #[must_use]
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            ArgValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// An integer option.
    #[must_use]
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            ArgValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// A boolean option.
    #[must_use]
    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            ArgValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// A user option.
    #[must_use]
    pub fn user(&self, name: &str) -> Option<Id<UserMarker>> {
        match self.get(name)? {
            ArgValue::User(u) => Some(*u),
            _ => None,
        }
    }

    /// A channel option.
    #[must_use]
    pub fn channel(&self, name: &str) -> Option<Id<ChannelMarker>> {
        match self.get(name)? {
            ArgValue::Channel(c) => Some(*c),
            _ => None,
        }
    }

    /// A role option.
    #[must_use]
    pub fn role(&self, name: &str) -> Option<Id<RoleMarker>> {
        match self.get(name)? {
            ArgValue::Role(r) => Some(*r),
            _ => None,
        }
    }
}
