//! [`StoreError`]: what a store operation can fail with.

use std::error::Error as StdError;
use std::fmt;

/// The broad class of a [`StoreError`]; callers branch on this, metrics label by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store cannot be reached (server down, timeout, file locked). Nothing was written;
    /// retrying later may succeed.
    Unavailable,
    /// A uniqueness rule was violated in a way the store could not resolve by itself.
    Duplicate,
    /// The addressed record does not exist.
    NotFound,
    /// The request was malformed (bad id, page size, key …).
    Invalid,
    /// Stored data could not be read back (wrong shape, failed integrity check).
    Corrupt,
}

impl StoreErrorKind {
    /// A short stable label for metrics (`unavailable`, `duplicate`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Duplicate => "duplicate",
            StoreErrorKind::NotFound => "not_found",
            StoreErrorKind::Invalid => "invalid",
            StoreErrorKind::Corrupt => "corrupt",
        }
    }
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a [`Store`](super::Store) operation: a [`StoreErrorKind`], a message and,
/// when there is one, the underlying error as its source.
#[derive(Debug, thiserror::Error)]
#[error("store {kind}: {message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl StoreError {
    /// A new error of `kind`.
    #[must_use]
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// An [`StoreErrorKind::Unavailable`] error.
    #[must_use]
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Unavailable, message)
    }

    /// A [`StoreErrorKind::NotFound`] error.
    #[must_use]
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::NotFound, message)
    }

    /// An [`StoreErrorKind::Invalid`] error.
    #[must_use]
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Invalid, message)
    }

    /// A [`StoreErrorKind::Corrupt`] error.
    #[must_use]
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Corrupt, message)
    }

    /// A [`StoreErrorKind::Duplicate`] error.
    #[must_use]
    pub fn duplicate(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Duplicate, message)
    }

    /// The class of this error.
    #[must_use]
    pub const fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// The message without the kind prefix.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A short stable label for metrics, e.g. `kyuta_store_errors_total{kind="unavailable"}`.
    #[must_use]
    pub const fn metric_label(&self) -> &'static str {
        self.kind.as_str()
    }

    /// Whether retrying later may help ([`StoreErrorKind::Unavailable`]).
    #[must_use]
    pub const fn is_unavailable(&self) -> bool {
        matches!(self.kind, StoreErrorKind::Unavailable)
    }

    /// Whether the addressed record does not exist.
    #[must_use]
    pub const fn is_not_found(&self) -> bool {
        matches!(self.kind, StoreErrorKind::NotFound)
    }
}
