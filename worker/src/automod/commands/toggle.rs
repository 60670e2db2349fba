//! `/automod enable`, `/automod disable` (automod itself, or one rule) and `/automod preset`.

use super::super::config::AutomodConfig;
use super::super::presets::Preset;
use super::{EditError, no_rule_names};

/// `enable` without a rule: automod on, refused while there are no rules.
pub(super) fn enable_automod(cfg: &mut AutomodConfig) -> Result<String, EditError> {
    cfg.enabled = true;
    if cfg.rules.is_empty() {
        return Err(EditError(
            "automod has no rules yet; `/automod preset standard` turns it on with a sensible set"
                .into(),
        ));
    }
    Ok("automod is on".to_owned())
}

/// `disable` without a rule: automod off, its rules kept.
pub(super) fn disable_automod(cfg: &mut AutomodConfig) -> String {
    cfg.enabled = false;
    "automod is off (rules are kept)".to_owned()
}

/// `enable` or `disable` with a rule: that rule on or off.
pub(super) fn switch_rule(
    cfg: &mut AutomodConfig,
    name: &str,
    on: bool,
) -> Result<String, EditError> {
    let master = cfg.enabled;
    let rule = cfg.rule_mut(name).ok_or_else(|| no_rule_names(name))?;
    rule.enabled = on;
    Ok(format!(
        "rule {name} is {}{}",
        if on { "on" } else { "off" },
        if on && !master {
            " (automod itself is off: `/automod enable`)"
        } else {
            ""
        }
    ))
}

/// `preset`: the chosen preset's rules in place of the preset rules (the guild's own rules
/// are kept), automod on.
pub(super) fn preset(cfg: &mut AutomodConfig, p: Preset) -> String {
    p.apply(cfg);
    // `apply` bumped the revision already.
    cfg.revision -= 1;
    format!(
        "preset {p} applied: {} rules, automod is on",
        cfg.rules.len()
    )
}
