use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use fluent_syntax::ast;

use super::*;
use crate::commands::{CommandError, Registry};

/// Every message of a catalog: id → attribute names.
fn entries(locale: Locale) -> BTreeMap<String, BTreeSet<String>> {
    let resource = FluentResource::try_new(locale.source().to_owned())
        .unwrap_or_else(|(_, e)| panic!("{}: {e:?}", locale.code()));
    resource
        .entries()
        .filter_map(|e| match e {
            ast::Entry::Message(m) => Some((
                m.id.name.to_owned(),
                m.attributes.iter().map(|a| a.id.name.to_owned()).collect(),
            )),
            _ => None,
        })
        .collect()
}

/// Variables (`{ $name }`) a message's value uses.
fn variables(locale: Locale, key: &str) -> BTreeSet<String> {
    let resource = FluentResource::try_new(locale.source().to_owned()).unwrap_or_else(|_| panic!());
    let mut out = BTreeSet::new();
    for e in resource.entries() {
        if let ast::Entry::Message(m) = e
            && m.id.name == key
            && let Some(v) = &m.value
        {
            for el in &v.elements {
                if let ast::PatternElement::Placeable {
                    expression:
                        ast::Expression::Inline(ast::InlineExpression::VariableReference { id }),
                } = el
                {
                    out.insert(id.name.to_owned());
                }
            }
        }
    }
    out
}

async fn registry() -> (Registry, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::open(&crate::store::StoreConfig::Embedded {
        path: dir.path().join("kyuta.redb"),
    })
    .await
    .unwrap();
    let analytics = Arc::new(crate::analytics::Analytics::new(
        true,
        Arc::new(crate::clock::SystemClock),
    ));
    let registry = crate::runtime::build_registry(store, Arc::default(), analytics).unwrap();
    (registry, dir)
}

/// What the registry needs translated: catalog key → option names.
fn wanted(registry: &Registry) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for c in registry.iter() {
        out.insert(
            c.catalog_key(),
            c.options.iter().map(|o| o.name.clone()).collect(),
        );
        for s in &c.subcommands {
            out.insert(
                c.subcommand_catalog_key(&s.name),
                s.options.iter().map(|o| o.name.clone()).collect(),
            );
        }
    }
    out
}

#[test]
fn catalogs_load() {
    let c = Catalogs::load().unwrap();
    assert_eq!(
        format!("{c:?}"),
        r#"Catalogs { locales: ["en-US", "de", "fr", "es-ES", "pt-BR"] }"#
    );
}

#[tokio::test]
async fn every_command_and_option_is_translated_and_nothing_else() {
    let (registry, _dir) = registry().await;
    let wanted = wanted(&registry);
    for locale in Locale::ALL.into_iter().filter(|l| *l != Locale::EnUs) {
        let have: BTreeMap<_, _> = entries(locale)
            .into_iter()
            .filter(|(k, _)| k.starts_with("cmd-"))
            .collect();
        assert_eq!(
            have.keys().collect::<Vec<_>>(),
            wanted.keys().collect::<Vec<_>>(),
            "{}: command entries differ from the registry",
            locale.code()
        );
        for (key, options) in &wanted {
            assert_eq!(&have[key], options, "{}: options of {key}", locale.code());
            let value = catalogs().lookup(locale, key, None, &[]).unwrap();
            let texts = std::iter::once(value).chain(
                options
                    .iter()
                    .map(|o| catalogs().lookup(locale, key, Some(o), &[]).unwrap()),
            );
            for t in texts {
                // Discord's limit for descriptions.
                let n = t.chars().count();
                assert!(
                    (1..=100).contains(&n),
                    "{}: {key}: {n} characters: {t}",
                    locale.code()
                );
            }
        }
    }
    // English descriptions live in the code, not in the English catalog.
    assert!(entries(Locale::EnUs).keys().all(|k| !k.starts_with("cmd-")));
}

#[test]
fn runtime_messages_exist_everywhere_with_the_same_variables() {
    let english: Vec<String> = entries(Locale::EnUs).into_keys().collect();
    assert!(english.len() >= 9, "{english:?}");
    for locale in Locale::ALL {
        let have = entries(locale);
        for key in &english {
            assert!(have.contains_key(key), "{} lacks {key}", locale.code());
            assert_eq!(
                variables(locale, key),
                variables(Locale::EnUs, key),
                "{}: variables of {key}",
                locale.code()
            );
        }
        let extra: Vec<_> = have
            .keys()
            .filter(|k| !k.starts_with("cmd-") && !english.contains(k))
            .collect();
        assert!(
            extra.is_empty(),
            "{}: unknown keys {extra:?}",
            locale.code()
        );
    }
}

#[test]
fn discord_codes_map_to_languages() {
    assert_eq!(Locale::from_discord("de"), Some(Locale::De));
    assert_eq!(Locale::from_discord("en-GB"), Some(Locale::EnUs));
    assert_eq!(Locale::from_discord("es-419"), Some(Locale::EsEs));
    assert_eq!(Locale::from_discord("pt-BR"), Some(Locale::PtBr));
    assert_eq!(Locale::from_discord("FR"), Some(Locale::Fr));
    assert_eq!(Locale::from_discord("ja"), None);
    assert_eq!(Locale::from_discord(""), None);
    assert_eq!(Locale::from_setting("ja"), Locale::EnUs);
    for l in Locale::ALL {
        assert_eq!(Locale::from_discord(l.code()), Some(l));
    }
}

#[test]
fn english_errors_read_as_before_and_others_translate() {
    let cooldown = CommandError::Cooldown {
        remaining: std::time::Duration::from_millis(2500),
    };
    let missing = CommandError::MissingPermissions {
        missing: "BAN_MEMBERS".into(),
    };
    let cases = [
        cooldown,
        missing,
        CommandError::GuildOnly,
        CommandError::ShuttingDown,
        CommandError::BotCannot("my role is too low".into()),
        CommandError::internal("boom"),
        CommandError::StoreUnavailable("down".into()),
    ];
    for e in &cases {
        assert_eq!(e.localized(Locale::EnUs), e.to_string());
        let de = e.localized(Locale::De);
        assert_ne!(de, e.to_string(), "{e:?}");
    }
    assert_eq!(
        cases[0].localized(Locale::Fr),
        "doucement : vous pourrez réutiliser cette commande dans 2.5 s"
    );
    assert!(cases[1].localized(Locale::PtBr).contains("BAN_MEMBERS"));
    // Free-form text stays as written.
    let user = CommandError::user("no case #9");
    assert_eq!(user.localized(Locale::De), "no case #9");
}

#[tokio::test]
async fn registration_carries_description_localizations() {
    let (registry, _dir) = registry().await;
    let commands = registry.discord_commands(None);
    let ban = commands.iter().find(|c| c.name == "ban").unwrap();
    let l = ban.description_localizations.as_ref().unwrap();
    assert_eq!(l["de"], "Einen Nutzer bannen, auf Wunsch befristet");
    assert_eq!(l["es-419"], l["es-ES"]);
    assert!(!l.contains_key("en-US"));
    let user = ban.options.iter().find(|o| o.name == "user").unwrap();
    assert_eq!(
        user.description_localizations.as_ref().unwrap()["fr"],
        "Qui bannir"
    );
    let automod = commands.iter().find(|c| c.name == "automod").unwrap();
    let preset = automod.options.iter().find(|o| o.name == "preset").unwrap();
    assert_eq!(
        preset.description_localizations.as_ref().unwrap()["pt-BR"],
        "Substituir as regras predefinidas por relaxed, standard ou strict"
    );
    let name = &preset.options.as_ref().unwrap()[0];
    assert_eq!(
        name.description_localizations.as_ref().unwrap()["de"],
        "Vorlage"
    );
}
