//! Why a configuration cannot be used.

/// A configuration that cannot be used, naming the rule and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The JSON does not have the expected shape.
    #[error("automod configuration is not valid: {0}")]
    Shape(String),
    /// A problem with the configuration as a whole.
    #[error("automod configuration: {0}")]
    Config(String),
    /// A problem with one rule.
    #[error("rule {rule:?}: {problem}")]
    Rule {
        /// The rule's name.
        rule: String,
        /// What is wrong.
        problem: String,
    },
}

impl ConfigError {
    pub(crate) fn rule(rule: &str, problem: impl Into<String>) -> Self {
        Self::Rule {
            rule: rule.to_owned(),
            problem: problem.into(),
        }
    }
}
