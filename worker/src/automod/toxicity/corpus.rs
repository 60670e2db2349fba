//! The labelled corpus (`worker/data/automod/corpus/corpus.tsv`, written by `generate.py`
//! there) and the evaluation that `docs/automod.md` reports: precision, recall and
//! false-positive rate per category and per language at the warn tier.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{CLASSES, Class};
use super::{Category, Toxicity};
use crate::automod::{Preset, RuleKind};

/// The corpus shipped with the worker.
pub const CORPUS: &str = include_str!("../../../data/automod/corpus/corpus.tsv");

/// The languages of the corpus, in report order.
pub const LANGUAGES: [&str; 5] = ["en", "de", "fr", "es", "pt-BR"];

/// Which part of the corpus a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Used to fit the weights.
    Train,
    /// Used to choose settings.
    Dev,
    /// Held out: used only to report.
    Test,
}

/// One labelled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    /// Its split.
    pub split: Split,
    /// Language tag (`en`, `de`, `fr`, `es`, `pt-BR`).
    pub lang: &'a str,
    /// Its label.
    pub class: Class,
    /// The template it was written from.
    pub template: &'a str,
    /// `plain` or the obfuscation applied (`leet`, `spacing`, `confusable`…).
    pub variant: &'a str,
    /// The message.
    pub text: &'a str,
}

/// A corpus line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corpus line {line}: {problem}")]
pub struct CorpusError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// Parses the corpus format (six tab-separated columns; `#` starts a comment line).
pub fn parse(text: &str) -> Result<Vec<Row<'_>>, CorpusError> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |problem: String| CorpusError {
            line: n + 1,
            problem,
        };
        let cols: Vec<&str> = line.split('\t').collect();
        let [split, lang, class, template, variant, text] = cols[..] else {
            return Err(err(format!("expected 6 columns, found {}", cols.len())));
        };
        let split = match split {
            "train" => Split::Train,
            "dev" => Split::Dev,
            "test" => Split::Test,
            other => return Err(err(format!("unknown split {other:?}"))),
        };
        let class = Class::parse(class).ok_or_else(|| err(format!("unknown class {class:?}")))?;
        rows.push(Row {
            split,
            lang,
            class,
            template,
            variant,
            text,
        });
    }
    Ok(rows)
}

/// What a scorer says about one message: its score for the warn tier and, when flagged, the
/// category it names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The score compared with the warn threshold.
    pub score: f32,
    /// The category reported.
    pub class: Class,
}

impl Prediction {
    /// The model's reading: the probability of abuse and the most likely harmful category.
    #[must_use]
    pub fn model(t: &Toxicity) -> Self {
        Self {
            score: t.score,
            class: t.category.unwrap_or(Class::Clean),
        }
    }

    /// The lexicon's reading: its score and the category of its heaviest term.
    #[must_use]
    pub fn lexicon(t: &Toxicity) -> Self {
        let class = match t.hits.first().map(|h| h.category) {
            None => Class::Clean,
            Some(Category::Slur | Category::Hate) => Class::IdentityHate,
            Some(Category::Threat) => Class::Threat,
            Some(Category::Sexual) => Class::Sexual,
            Some(Category::Insult) => Class::Insult,
            Some(Category::Profanity) => Class::Profanity,
        };
        Self {
            score: t.lexicon_score,
            class,
        }
    }
}

/// The warn threshold of the `standard` preset's toxicity rule, the tier the report uses.
///
/// # Panics
/// Panics if the preset has no toxicity warn tier (a change to the presets that must come
/// with a change to the report).
#[must_use]
pub fn standard_warn_at() -> f32 {
    Preset::Standard
        .rules()
        .iter()
        .find_map(|r| match &r.kind {
            RuleKind::Toxicity(t) => t.warn_at,
            _ => None,
        })
        .expect("the standard preset warns on toxicity")
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    n: usize,
    /// At or above the warn tier, whatever the category.
    flagged: usize,
    /// Flagged and named with the right category.
    named: usize,
}

/// Counts per (language, label) and per predicted category at the warn tier.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    cells: BTreeMap<(String, Class), Cell>,
    /// Flagged messages named `predicted`, per (language, predicted).
    predicted: BTreeMap<(String, Class), usize>,
}

impl Evaluation {
    /// Scores `rows` with `predict` at warn threshold `warn_at`.
    pub fn run<'a>(
        rows: impl IntoIterator<Item = &'a Row<'a>>,
        warn_at: f32,
        mut predict: impl FnMut(&str) -> Prediction,
    ) -> Self {
        let mut e = Self::default();
        for r in rows {
            let p = predict(r.text);
            let cell = e.cells.entry((r.lang.to_owned(), r.class)).or_default();
            cell.n += 1;
            if p.score >= warn_at {
                cell.flagged += 1;
                cell.named += usize::from(p.class == r.class);
                *e.predicted.entry((r.lang.to_owned(), p.class)).or_default() += 1;
            }
        }
        e
    }

    fn sum(&self, lang: Option<&str>, class: Class) -> Cell {
        let mut t = Cell::default();
        for ((l, c), cell) in &self.cells {
            if *c == class && lang.is_none_or(|x| x == l) {
                t.n += cell.n;
                t.flagged += cell.flagged;
                t.named += cell.named;
            }
        }
        t
    }

    fn total(&self, lang: Option<&str>) -> usize {
        CLASSES.iter().map(|&c| self.sum(lang, c).n).sum()
    }

    fn predicted_as(&self, lang: Option<&str>, class: Class) -> usize {
        self.predicted
            .iter()
            .filter(|((l, c), _)| *c == class && lang.is_none_or(|x| x == l))
            .map(|(_, n)| n)
            .sum()
    }

    /// Share of messages labelled `class` at or above the warn tier.
    #[must_use]
    pub fn recall(&self, lang: Option<&str>, class: Class) -> f64 {
        let c = self.sum(lang, class);
        ratio(c.flagged, c.n)
    }

    /// Share of messages labelled clean at or above the warn tier.
    #[must_use]
    pub fn clean_fpr(&self, lang: Option<&str>) -> f64 {
        self.recall(lang, Class::Clean)
    }

    /// Of the flagged messages named `class`, the share labelled `class`.
    #[must_use]
    pub fn precision(&self, lang: Option<&str>, class: Class) -> f64 {
        ratio(self.sum(lang, class).named, self.predicted_as(lang, class))
    }

    /// Of the messages not labelled `class`, the share flagged and named `class`.
    #[must_use]
    pub fn false_positive_rate(&self, lang: Option<&str>, class: Class) -> f64 {
        let c = self.sum(lang, class);
        ratio(
            self.predicted_as(lang, class) - c.named,
            self.total(lang) - c.n,
        )
    }

    /// A Markdown report: per category over all languages, then recall per language.
    #[must_use]
    pub fn table(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "| category | n | flagged (recall at warn) | precision of the category | \
             recall of the category | false-positive rate |\n|---|---|---|---|---|---|\n",
        );
        for c in CLASSES {
            let cell = self.sum(None, c);
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
                c.name(),
                cell.n,
                ratio(cell.flagged, cell.n),
                self.precision(None, c),
                ratio(cell.named, cell.n),
                self.false_positive_rate(None, c),
            );
        }
        s.push_str("\nFlagged at the warn tier, per language (for clean and profanity, lower is better):\n\n| category |");
        for l in LANGUAGES {
            let _ = write!(s, " {l} |");
        }
        s.push_str("\n|---|");
        for _ in LANGUAGES {
            s.push_str("---|");
        }
        s.push('\n');
        for c in CLASSES {
            let _ = write!(s, "| {} |", c.name());
            for l in LANGUAGES {
                let _ = write!(s, " {:.3} |", self.recall(Some(l), c));
            }
            s.push('\n');
        }
        s
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    // Counts of a few thousand messages.
    #[allow(clippy::cast_precision_loss)]
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_parses_and_keeps_its_shape() {
        let rows = parse(CORPUS).unwrap();
        assert!(rows.len() >= 2000);
        for l in LANGUAGES {
            for c in CLASSES {
                for s in [Split::Train, Split::Dev, Split::Test] {
                    assert!(
                        rows.iter()
                            .any(|r| r.lang == l && r.class == c && r.split == s),
                        "{l} {c:?} {s:?}"
                    );
                }
            }
        }
        // A template belongs to one split only.
        let mut by_template = BTreeMap::new();
        for r in &rows {
            let s = *by_template.entry(r.template).or_insert(r.split);
            assert_eq!(s, r.split, "{}", r.template);
        }
        assert!(rows.iter().any(|r| r.variant == "zero_width"));
    }

    #[test]
    fn bad_lines_are_rejected_with_the_line() {
        assert_eq!(parse("# c\ntrain\ten").unwrap_err().line, 2);
        assert!(
            parse("nope\ten\tclean\tt\tplain\thi")
                .unwrap_err()
                .problem
                .contains("split")
        );
        assert!(
            parse("test\ten\tbad\tt\tplain\thi")
                .unwrap_err()
                .problem
                .contains("class")
        );
    }

    #[test]
    fn rates_count_what_they_say() {
        let rows = parse(
            "test\ten\tinsult\tt\tplain\ta\ntest\ten\tinsult\tt\tplain\tb\n\
             test\ten\tclean\tt\tplain\tc\ntest\ten\tclean\tt\tplain\td\n",
        )
        .unwrap();
        let e = Evaluation::run(&rows, 0.5, |t| Prediction {
            score: if t == "d" { 0.1 } else { 0.9 },
            class: Class::Insult,
        });
        assert!((e.recall(None, Class::Insult) - 1.0).abs() < 1e-9);
        assert!((e.clean_fpr(Some("en")) - 0.5).abs() < 1e-9);
        assert!((e.precision(None, Class::Insult) - 2.0 / 3.0).abs() < 1e-9);
        assert!((e.false_positive_rate(None, Class::Insult) - 0.5).abs() < 1e-9);
        assert!(e.table().contains("| insult | 2 | 1.000 |"));
    }
}
