//! Localization with Project Fluent: the languages Kyuta speaks, their message catalogs
//! (`worker/locales/<code>/kyuta.ftl`, built into the binary). The `/language` command is
//! [`crate::commands::language`].
//!
//! What is translated: the descriptions of every slash command, subcommand and option (sent
//! to Discord as `description_localizations`, so each member's client shows them in its own
//! language) and the refusal and error messages of commands. Command results, mod-log entries
//! and automod alerts are in English.
//!
//! Which language a reply uses: a slash command answers in the member's Discord language
//! (`interaction.locale`) when Kyuta speaks it, else in the server's language; a prefix command
//! (Discord does not say the member's language there) answers in the server's language, set
//! with `/language` (default English). Unknown keys fall back to English.
//!
//! Catalog keys: `cmd-<command>` (description) with one attribute per option
//! (`.user = …`); `cmd-<command>-<subcommand>` likewise; everything else is a runtime message
//! (`error-cooldown`, …) with `{ $variables }`.

use std::{collections::HashMap, sync::LazyLock};

use fluent_bundle::{FluentArgs, FluentResource, FluentValue, concurrent::FluentBundle};

/// A language Kyuta speaks. Stored (in a guild's settings) as its [`code`](Self::code); a
/// stored code Kyuta does not speak reads as English, the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locale {
    /// English (United States); the fallback.
    #[default]
    EnUs,
    /// German.
    De,
    /// French.
    Fr,
    /// Spanish (Spain; also serves Latin American Spanish).
    EsEs,
    /// Portuguese (Brazil).
    PtBr,
}

impl serde::Serialize for Locale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Locale {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Self::from_setting(&code))
    }
}

impl Locale {
    /// Every language, English first.
    pub const ALL: [Self; 5] = [Self::EnUs, Self::De, Self::Fr, Self::EsEs, Self::PtBr];

    /// Discord's code for the language (as stored in a guild's settings).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::EnUs => "en-US",
            Self::De => "de",
            Self::Fr => "fr",
            Self::EsEs => "es-ES",
            Self::PtBr => "pt-BR",
        }
    }

    /// The language's own name.
    #[must_use]
    pub fn native_name(self) -> &'static str {
        match self {
            Self::EnUs => "English",
            Self::De => "Deutsch",
            Self::Fr => "Français",
            Self::EsEs => "Español",
            Self::PtBr => "Português (Brasil)",
        }
    }

    /// The Discord locales whose clients get this language's command descriptions.
    #[must_use]
    pub fn discord_locales(self) -> &'static [&'static str] {
        match self {
            // English is the commands' default description: no localization entry.
            Self::EnUs => &[],
            Self::De => &["de"],
            Self::Fr => &["fr"],
            Self::EsEs => &["es-ES", "es-419"],
            Self::PtBr => &["pt-BR"],
        }
    }

    /// The language for a Discord locale code (`de`, `en-GB`, `es-419`, …): an exact match,
    /// else the same language; `None` when Kyuta does not speak it.
    #[must_use]
    pub fn from_discord(code: &str) -> Option<Self> {
        let code = code.trim();
        if let Some(l) = Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code))
        {
            return Some(l);
        }
        let lang = code.split(['-', '_']).next().unwrap_or("");
        Self::ALL.into_iter().find(|l| {
            l.code()
                .split('-')
                .next()
                .is_some_and(|x| x.eq_ignore_ascii_case(lang))
        })
    }

    /// The language for a stored guild setting; English when unknown.
    #[must_use]
    pub fn from_setting(code: &str) -> Self {
        Self::from_discord(code).unwrap_or(Self::EnUs)
    }

    fn source(self) -> &'static str {
        match self {
            Self::EnUs => include_str!("../../locales/en-US/kyuta.ftl"),
            Self::De => include_str!("../../locales/de/kyuta.ftl"),
            Self::Fr => include_str!("../../locales/fr/kyuta.ftl"),
            Self::EsEs => include_str!("../../locales/es-ES/kyuta.ftl"),
            Self::PtBr => include_str!("../../locales/pt-BR/kyuta.ftl"),
        }
    }
}

/// The catalogs of every language.
pub struct Catalogs {
    bundles: Vec<(Locale, FluentBundle<FluentResource>)>,
}

impl std::fmt::Debug for Catalogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogs")
            .field(
                "locales",
                &self
                    .bundles
                    .iter()
                    .map(|(l, _)| l.code())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Why a catalog could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("catalog {locale}: {message}")]
pub struct CatalogError {
    /// The language's code.
    pub locale: &'static str,
    /// What is wrong.
    pub message: String,
}

impl Catalogs {
    /// Parses every built-in catalog.
    ///
    /// # Errors
    /// The first catalog that does not parse or defines a message twice.
    pub fn load() -> Result<Self, CatalogError> {
        let mut bundles = Vec::new();
        for locale in Locale::ALL {
            let err = |message: String| CatalogError {
                locale: locale.code(),
                message,
            };
            let resource = FluentResource::try_new(locale.source().to_owned())
                .map_err(|(_, e)| err(format!("syntax: {e:?}")))?;
            let id = locale
                .code()
                .parse()
                .map_err(|e| err(format!("language id: {e}")))?;
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Discord renders the Unicode isolation marks as boxes in some clients.
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .map_err(|e| err(format!("{e:?}")))?;
            bundles.push((locale, bundle));
        }
        Ok(Self { bundles })
    }

    fn bundle(&self, locale: Locale) -> &FluentBundle<FluentResource> {
        &self
            .bundles
            .iter()
            .find(|(l, _)| *l == locale)
            .unwrap_or(&self.bundles[0])
            .1
    }

    /// Message `key` (or its attribute `attr`) in `locale`, with `args`; `None` when that
    /// language lacks it.
    #[must_use]
    pub fn lookup(
        &self,
        locale: Locale,
        key: &str,
        attr: Option<&str>,
        args: &[(&str, FluentValue<'_>)],
    ) -> Option<String> {
        let bundle = self.bundle(locale);
        let message = bundle.get_message(key)?;
        let pattern = match attr {
            Some(a) => message.get_attribute(a)?.value(),
            None => message.value()?,
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, v.clone());
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fargs), &mut errors);
        if !errors.is_empty() {
            tracing::debug!(
                locale = locale.code(),
                key,
                ?errors,
                "catalog message with errors"
            );
        }
        Some(text.into_owned())
    }

    /// Message `key` in `locale`, else in English, else the key itself.
    #[must_use]
    pub fn text(&self, locale: Locale, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        self.lookup(locale, key, None, args)
            .or_else(|| self.lookup(Locale::EnUs, key, None, args))
            .unwrap_or_else(|| key.to_owned())
    }

    /// Discord's `description_localizations` for catalog entry `key` (attribute `attr`):
    /// Discord locale → text, for every language that has it; `None` when none has.
    #[must_use]
    pub fn localizations(&self, key: &str, attr: Option<&str>) -> Option<HashMap<String, String>> {
        let map: HashMap<String, String> = Locale::ALL
            .into_iter()
            .filter(|l| !l.discord_locales().is_empty())
            .filter_map(|l| self.lookup(l, key, attr, &[]).map(|t| (l, t)))
            .flat_map(|(l, t)| {
                l.discord_locales()
                    .iter()
                    .map(move |code| ((*code).to_owned(), t.clone()))
            })
            .collect();
        (!map.is_empty()).then_some(map)
    }
}

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| {
    // Built-in text, checked by the tests: failing here is a build defect.
    Catalogs::load().expect("built-in catalogs parse")
});

/// The built-in catalogs.
#[must_use]
pub fn catalogs() -> &'static Catalogs {
    &CATALOGS
}

/// Shorthand for [`Catalogs::text`] on the built-in catalogs.
#[must_use]
pub fn text(locale: Locale, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    catalogs().text(locale, key, args)
}

#[cfg(test)]
mod tests;
