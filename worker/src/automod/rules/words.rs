//! `words`: words or phrases (`word`, `word*` prefix, `*word` suffix, `*word*` anywhere),
//! matched against normalised text so leetspeak and spacing do not hide them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::settings::required_list;
use super::{Check, Family, Finding, MessageInput, RuleInfo, Setting, SettingKind};
use crate::automod::context::Evidence;
use crate::automod::error::ConfigError;
use crate::automod::text::TermMatcher;

/// Most terms in one word list.
pub const MAX_WORDS: usize = 1000;

/// Words or phrases in messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    /// The terms.
    pub words: Vec<String>,
}

/// Checks a term list (shared with [`super::names`]).
pub fn validate_terms(rule: &str, words: &[String]) -> Result<(), ConfigError> {
    if words.is_empty() {
        return Err(ConfigError::rule(rule, "the word list is empty"));
    }
    if words.len() > MAX_WORDS {
        return Err(ConfigError::rule(
            rule,
            format!("{} words is more than the {MAX_WORDS} allowed", words.len()),
        ));
    }
    Ok(())
}

/// Compiles a term list (shared with [`super::names`]).
pub fn compile_terms(rule: &str, words: &[String]) -> Result<TermMatcher, ConfigError> {
    TermMatcher::new(words).map_err(|e| ConfigError::rule(rule, e.to_string()))
}

impl Family for Words {
    const SETTINGS: &'static [Setting] = &[Setting::new("words", SettingKind::List)];

    fn added(value: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            words: required_list(value, "words", "words")?,
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        validate_terms(rule, &self.words)
    }

    fn compile(&self, rule: &str) -> Result<Arc<dyn Check>, ConfigError> {
        Ok(Arc::new(Compiled(compile_terms(rule, &self.words)?)))
    }
}

#[derive(Debug)]
struct Compiled(TermMatcher);

impl Check for Compiled {
    fn needs_normalized(&self) -> bool {
        true
    }

    fn message(&self, input: &MessageInput<'_>, rule: &RuleInfo) -> Finding {
        let m = &self.0;
        match input.norm.and_then(|n| m.first_match(n)) {
            Some(i) => Finding::Fired(rule.hit(Evidence {
                reason: format!("contains the listed term {:?}", m.term(i)),
                matched: Some(m.term(i).to_owned()),
                ..Evidence::default()
            })),
            None => Finding::Clean,
        }
    }
}
