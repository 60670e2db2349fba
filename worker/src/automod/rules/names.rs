//! `names`: a member's username, global name or nickname containing one of these terms
//! (term syntax as for [`super::words`]), when they join and whenever one of their names
//! changes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::settings::required_list;
use super::words::{compile_terms, validate_terms};
use super::{Check, Family, Finding, RuleInfo, Scope, Setting, SettingKind};
use crate::automod::context::{Evidence, MemberContext, excerpt};
use crate::automod::error::ConfigError;
use crate::automod::text::{TermMatcher, normalize};

/// Names containing listed terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    /// The terms.
    pub words: Vec<String>,
}

impl Family for Names {
    const SCOPE: Scope = Scope::Member;
    const SETTINGS: &'static [Setting] = &[Setting::new("words", SettingKind::List)];

    fn added(value: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            words: required_list(value, "names", "words")?,
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
    fn join(&self, member: &MemberContext<'_>, rule: &RuleInfo) -> Finding {
        let m = &self.0;
        let names = [Some(member.username), member.global_name, member.nick];
        let hit = names
            .into_iter()
            .flatten()
            .find_map(|n| m.first_match(&normalize(n)).map(|i| (n, m.term(i))));
        match hit {
            Some((name, term)) => Finding::Fired(rule.hit(Evidence {
                reason: format!("name {name:?} contains the listed term {term:?}"),
                matched: Some(term.to_owned()),
                excerpt: Some(excerpt(name)),
                ..Evidence::default()
            })),
            None => Finding::Clean,
        }
    }

    fn renamed(&self, member: &MemberContext<'_>, rule: &RuleInfo) -> Finding {
        self.join(member, rule)
    }
}
