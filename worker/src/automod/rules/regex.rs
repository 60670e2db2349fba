//! `regex`: regular expressions (the `regex` crate's syntax, linear-time; no look-around or
//! back-references), case-insensitive unless the pattern says `(?-i)`, compiled into one set
//! under size limits.

use std::sync::Arc;

use ::regex::{RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

use super::{Check, Family, Finding, MessageInput, RuleInfo, Setting, SettingKind};
use crate::automod::context::Evidence;
use crate::automod::error::ConfigError;

/// Longest accepted regex pattern, in bytes.
pub const MAX_REGEX_LEN: usize = 256;
/// Most regex patterns in one rule.
pub const MAX_REGEX_PATTERNS: usize = 32;
/// Compiled size limit of one rule's regex set (bytes of compiled program).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Cache size limit of one rule's lazy DFA.
pub const REGEX_DFA_SIZE_LIMIT: usize = 2 << 20;

/// Regular expressions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regex {
    /// The patterns.
    pub patterns: Vec<String>,
}

impl Family for Regex {
    const SETTINGS: &'static [Setting] = &[Setting::new("patterns", SettingKind::List)];

    fn added(value: Option<&str>) -> Result<Self, String> {
        let patterns = value
            .map(|v| vec![v.trim().to_owned()])
            .filter(|v| !v[0].is_empty())
            .ok_or_else(|| {
                "a regex rule needs a pattern as value (add more with `set … patterns +…`)"
                    .to_owned()
            })?;
        Ok(Self { patterns })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        let patterns = &self.patterns;
        if patterns.is_empty() {
            return Err(ConfigError::rule(rule, "the pattern list is empty"));
        }
        if patterns.len() > MAX_REGEX_PATTERNS {
            return Err(ConfigError::rule(
                rule,
                format!(
                    "{} patterns is more than the {MAX_REGEX_PATTERNS} allowed",
                    patterns.len()
                ),
            ));
        }
        if let Some(p) = patterns.iter().find(|p| p.len() > MAX_REGEX_LEN) {
            return Err(ConfigError::rule(
                rule,
                format!(
                    "pattern {:?}… is {} bytes long; the limit is {MAX_REGEX_LEN}",
                    p.chars().take(24).collect::<String>(),
                    p.len()
                ),
            ));
        }
        Ok(())
    }

    fn compile(&self, rule: &str) -> Result<Arc<dyn Check>, ConfigError> {
        Ok(Arc::new(Compiled(compile_regexes(rule, &self.patterns)?)))
    }
}

/// Compiles a rule's regexes into one set under the size limits; patterns the `regex` crate
/// cannot run in linear time (look-around, back-references) or that compile too big are
/// rejected with the reason.
pub fn compile_regexes(rule: &str, patterns: &[String]) -> Result<RegexSet, ConfigError> {
    for p in patterns {
        if p.len() > MAX_REGEX_LEN {
            return Err(ConfigError::rule(
                rule,
                format!(
                    "a pattern is {} bytes long; the limit is {MAX_REGEX_LEN}",
                    p.len()
                ),
            ));
        }
        // Each pattern alone first, so the error names it.
        builder([p]).build().map_err(|e| {
            ConfigError::rule(
                rule,
                format!("pattern {p:?} is rejected: {}", regex_error(&e)),
            )
        })?;
    }
    builder(patterns).build().map_err(|e| {
        ConfigError::rule(
            rule,
            format!("the patterns together are rejected: {}", regex_error(&e)),
        )
    })
}

fn builder<I, S>(patterns: I) -> RegexSetBuilder
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut b = RegexSetBuilder::new(patterns);
    b.case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT);
    b
}

fn regex_error(e: &::regex::Error) -> String {
    match e {
        ::regex::Error::CompiledTooBig(limit) => format!(
            "it compiles to more than the {limit}-byte limit (too much repetition or too large a class); simplify it"
        ),
        ::regex::Error::Syntax(s) => {
            let first = s.lines().last().unwrap_or(s).trim();
            format!("{first} (look-around and back-references are not supported)")
        }
        other => other.to_string(),
    }
}

#[derive(Debug)]
struct Compiled(RegexSet);

impl Check for Compiled {
    fn message(&self, input: &MessageInput<'_>, rule: &RuleInfo) -> Finding {
        let set = &self.0;
        match set.matches(input.msg.content).iter().next() {
            Some(i) => {
                let pattern = &set.patterns()[i];
                Finding::Fired(rule.hit(Evidence {
                    reason: format!("matches the pattern {pattern:?}"),
                    matched: Some(pattern.clone()),
                    ..Evidence::default()
                }))
            }
            None => Finding::Clean,
        }
    }
}
