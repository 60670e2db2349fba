//! `links`: links by domain. With an `allow` list every other domain fires; a `deny` list
//! fires on its domains. A domain covers its subdomains.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::settings::required_list;
use super::{Check, Family, Finding, MessageInput, RuleInfo, Setting, SettingKind};
use crate::automod::context::Evidence;
use crate::automod::error::ConfigError;
use crate::automod::text::{host_in, link_hosts};

/// Links by domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Links {
    /// Only these domains are allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// These domains are not allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

fn check_domain(rule: &str, d: &str) -> Result<(), ConfigError> {
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !d.starts_with('.')
        && !d.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::rule(
            rule,
            format!("{d:?} is not a domain (lowercase, like example.com)"),
        ))
    }
}

impl Family for Links {
    const SETTINGS: &'static [Setting] = &[
        Setting::new("allow", SettingKind::List),
        Setting::new("deny", SettingKind::List),
    ];

    fn added(value: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            allow: vec![],
            deny: required_list(value, "links", "denied domains")?,
        })
    }

    fn validate(&self, rule: &str) -> Result<(), ConfigError> {
        if self.allow.is_empty() && self.deny.is_empty() {
            return Err(ConfigError::rule(
                rule,
                "set an allow list, a deny list or both",
            ));
        }
        for d in self.allow.iter().chain(&self.deny) {
            check_domain(rule, d)?;
        }
        Ok(())
    }

    fn compile(&self, _: &str) -> Result<Arc<dyn Check>, ConfigError> {
        Ok(Arc::new(Compiled {
            allow: self.allow.iter().cloned().collect(),
            deny: self.deny.iter().cloned().collect(),
        }))
    }
}

#[derive(Debug)]
struct Compiled {
    allow: HashSet<String>,
    deny: HashSet<String>,
}

impl Check for Compiled {
    fn message(&self, input: &MessageInput<'_>, rule: &RuleInfo) -> Finding {
        let content = input.msg.content;
        if content.len() < 8 {
            return Finding::Clean;
        }
        let bad = link_hosts(content).find(|h| {
            host_in(h, &self.deny) || (!self.allow.is_empty() && !host_in(h, &self.allow))
        });
        let Some(host) = bad else {
            return Finding::Clean;
        };
        let why = if host_in(&host, &self.deny) {
            "is on the deny list"
        } else {
            "is not on the allow list"
        };
        Finding::Fired(rule.hit(Evidence {
            reason: format!("link to {host}, which {why}"),
            matched: Some(host),
            ..Evidence::default()
        }))
    }
}
