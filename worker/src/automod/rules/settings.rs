//! Setting descriptors: the parameters of a rule family that `/automod set` can change, and
//! how a moderator writes their values (`10s`, `12/30s`, `+word`, `off`).

use serde_json::{Value, json};

use super::RuleKind;
use crate::duration::parse_duration;

/// How a setting's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// A whole number.
    Int,
    /// A whole number, or `off`/`none` to unset it.
    OptInt,
    /// Seconds, as a number or a duration (`90`, `1m30s`).
    Secs,
    /// A score in (0, 1], or `off`/`none` to unset it.
    Score,
    /// `on`/`off` (also `true`/`false`, `yes`/`no`, `1`/`0`).
    Bool,
    /// A comma-separated list: `+a, b` adds, `-a` removes, anything else replaces.
    List,
    /// `COUNT/DURATION` (`12/30s`), or `off`/`none` to unset it.
    Window,
}

/// One parameter of a rule family that `/automod set` can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The parameter's name, as stored and as typed.
    pub name: &'static str,
    /// How its value is written.
    pub kind: SettingKind,
}

impl Setting {
    /// A setting called `name`.
    #[must_use]
    pub const fn new(name: &'static str, kind: SettingKind) -> Self {
        Self { name, kind }
    }
}

/// Whether `v` means "nothing" (`none`, `off`, `-` or empty).
#[must_use]
pub fn is_none(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "none" | "off" | "-" | ""
    )
}

/// Parses `on`/`off` and its synonyms.
pub fn parse_bool(v: &str) -> Result<bool, String> {
    crate::input::parse_bool(v).ok_or_else(|| format!("{v:?} is not on/off"))
}

/// Parses seconds, as a number or a duration (`1m30s`).
pub fn parse_secs(v: &str) -> Result<u64, String> {
    let t = v.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    parse_duration(t)
        .map(|d| d.as_secs())
        .map_err(|e| format!("{v:?} is not a number of seconds or a duration: {e}"))
}

impl SettingKind {
    /// The stored JSON value for `value` as typed (`null` unsets the parameter); `current`
    /// is the stored value, which list edits start from.
    pub fn parse(self, value: &str, current: Option<&Value>) -> Result<Value, String> {
        let v = value.trim();
        let int = |s: &str| -> Result<u64, String> {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?} is not a whole number"))
        };
        Ok(match self {
            Self::Int => json!(int(v)?),
            Self::OptInt => {
                if is_none(v) {
                    Value::Null
                } else {
                    json!(int(v)?)
                }
            }
            Self::Secs => json!(parse_secs(v)?),
            Self::Score => {
                if is_none(v) {
                    Value::Null
                } else {
                    let s: f64 = v
                        .parse()
                        .map_err(|_| format!("{v:?} is not a score between 0 and 1"))?;
                    json!(s)
                }
            }
            Self::Bool => json!(parse_bool(v)?),
            Self::List => json!(edit_list(v, current)),
            Self::Window => {
                if is_none(v) {
                    Value::Null
                } else {
                    let (count, secs) = v.split_once('/').ok_or_else(|| {
                        format!("{v:?}: write a window as COUNT/DURATION, e.g. 12/30s")
                    })?;
                    json!({"count": int(count)?, "within_secs": parse_secs(secs)?})
                }
            }
        })
    }
}

/// `+a, b` adds to `current`, `-a` removes, `none` clears, anything else replaces.
fn edit_list(v: &str, current: Option<&Value>) -> Vec<String> {
    let items = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut list: Vec<String> = current
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(add) = v.strip_prefix('+') {
        for i in items(add) {
            if !list.contains(&i) {
                list.push(i);
            }
        }
    } else if let Some(del) = v.strip_prefix('-') {
        let del = items(del);
        list.retain(|x| !del.contains(x));
    } else if is_none(v) {
        list.clear();
    } else {
        list = items(v);
    }
    list
}

impl RuleKind {
    /// Sets one of the family's parameters from `value` as typed. The parameters are read
    /// back through the family's stored form, so a value its type cannot hold is refused
    /// with the reason; on error `self` is unchanged.
    pub fn set(&mut self, setting: &Setting, value: &str) -> Result<(), String> {
        let mut kind = serde_json::to_value(&*self).expect("rule kind serialises");
        let new = setting.kind.parse(value, kind.get(setting.name))?;
        let obj = kind.as_object_mut().expect("rule kind is an object");
        if new.is_null() {
            obj.remove(setting.name);
        } else {
            obj.insert(setting.name.to_owned(), new);
        }
        *self = serde_json::from_value::<RuleKind>(kind)
            .map_err(|e| format!("{}: {e}", setting.name))?;
        Ok(())
    }
}

/// The comma-separated list a moderator typed with `/automod add`, for the family `family`
/// whose list holds `what`; an empty list is refused.
pub fn required_list(value: Option<&str>, family: &str, what: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect();
    if items.is_empty() {
        Err(format!(
            "a {family} rule needs its {what}: give them as value, comma-separated"
        ))
    } else {
        Ok(items)
    }
}
