//! Toxicity score in `[0, 1]` from a weighted lexicon shipped in the repository
//! (`worker/data/automod/lexicon.tsv`), matched against normalised text so that leetspeak,
//! repeated letters, look-alike characters, accents, letter-by-letter spacing and
//! self-censoring (`f*ck`) do not hide a term, while word boundaries keep innocent words
//! (`Scunthorpe`, `assessment`, `cocktail`) clean.
//!
//! Every term has two weights: one when the message addresses nobody in particular and one
//! when it addresses someone. The score is the highest weight found plus half of the
//! noisy-or of the others, so several terms raise it, with diminishing effect, and never
//! past 1.
//!
//! The lexicon alone is blind to abuse without swear words (threats, harassment, self-harm
//! incitement) and to most languages but English. The [`ModelScorer`] adds a trained
//! [`model`] that reads the same normalised text and takes the lexicon's weights as
//! features, and gives a probability per category ([`Class`]). The corpus it is trained and
//! evaluated on is in [`corpus`]; [`train`] reproduces the shipped weights.

use std::sync::LazyLock;

use serde::Serialize;

use super::text::{Normalized, TermMatcher, normalize};

pub mod corpus;
pub mod model;
pub mod train;

pub use model::{Class, ClassScores, Model, ModelError};

/// The lexicon shipped with the worker.
pub const BUILTIN_LEXICON: &str = include_str!("../../data/automod/lexicon.tsv");

/// A term's category, reported in the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Slurs against a group.
    Slur,
    /// Hate speech phrases.
    Hate,
    /// Threats and incitement to self-harm.
    Threat,
    /// Sexual harassment.
    Sexual,
    /// Insults.
    Insult,
    /// Swearing.
    Profanity,
}

impl Category {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "slur" => Self::Slur,
            "hate" => Self::Hate,
            "threat" => Self::Threat,
            "sexual" => Self::Sexual,
            "insult" => Self::Insult,
            "profanity" => Self::Profanity,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
struct Entry {
    untargeted: f32,
    targeted: f32,
    category: Category,
}

/// A lexicon that cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lexicon line {line}: {problem}")]
pub struct LexiconError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// A compiled toxicity lexicon.
#[derive(Debug, Clone)]
pub struct Lexicon {
    matcher: TermMatcher,
    entries: Vec<Entry>,
    /// Single-word terms by character count, for matching self-censored words (`f*ck`).
    words_by_len: Vec<Vec<usize>>,
}

/// One term found in a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermHit {
    /// The term, normalised.
    pub term: String,
    /// Its category.
    pub category: Category,
    /// The weight that counted.
    pub weight: f32,
}

/// The toxicity of one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Toxicity {
    /// The score in `[0, 1]`.
    pub score: f32,
    /// Whether the message was read as addressed to someone.
    pub targeted: bool,
    /// The terms found, highest weight first.
    pub hits: Vec<TermHit>,
    /// The most likely harmful category, when the model scored the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Class>,
    /// The model's probability per category, when it scored the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassScores>,
    /// The lexicon's own score (equal to `score` when the lexicon scored alone).
    pub lexicon_score: f32,
}

/// How a message is scored: the raw text (used to see user mentions) and its normalised form
/// in, a [`Toxicity`] out. The `toxicity` rule family ([`super::rules::toxicity`]) holds one.
pub type Scorer = fn(&str, &Normalized) -> Toxicity;

/// The [`Scorer`] of the shipped lexicon.
#[must_use]
pub fn lexicon_score(content: &str, norm: &Normalized) -> Toxicity {
    BUILTIN.score_normalized(content, norm)
}

/// The [`Scorer`] of the shipped model (with the shipped lexicon); the `toxicity` rules act
/// on it through [`rule_score`].
#[must_use]
pub fn model_score(content: &str, norm: &Normalized) -> Toxicity {
    ModelScorer::builtin().score_normalized(content, norm)
}

/// From this probability the model's reading is acted on alone; below it a `toxicity` rule
/// acts only when the lexicon also found a term (a second opinion). Chosen before the
/// held-out evaluation as the old permanent-ban tier: on the held-out set it keeps clean text
/// from being flagged (0.0 % overall, 1 % in French, against 5.5 % and 24 % for the model
/// alone) while catching more abuse than the lexicon alone (see `docs/automod.md`).
pub const MODEL_ALONE_FROM: f32 = 0.8;

/// The [`Scorer`] the `toxicity` rules act on: the shipped model, with the lexicon as a second
/// opinion below [`MODEL_ALONE_FROM`] (a message the lexicon finds nothing in keeps the
/// lexicon's score, 0, unless the model is that sure).
#[must_use]
pub fn rule_score(content: &str, norm: &Normalized) -> Toxicity {
    second_opinion(model_score(content, norm))
}

/// Applies the lexicon's second opinion to a model reading (see [`rule_score`]).
#[must_use]
pub fn second_opinion(mut t: Toxicity) -> Toxicity {
    if t.lexicon_score <= 0.0 && t.score < MODEL_ALONE_FROM {
        t.score = t.lexicon_score;
    }
    t
}

static BUILTIN: LazyLock<Lexicon> =
    LazyLock::new(|| Lexicon::parse(BUILTIN_LEXICON).expect("the shipped lexicon is valid"));

const SECOND_PERSON: &[&str] = &[
    "you", "u", "ur", "your", "youre", "yourself", "urself", "ya", "yours", "thou", "thee", "ure",
];
const FIRST_PERSON: &[&str] = &[
    "i",
    "im",
    "me",
    "my",
    "myself",
    "we",
    "us",
    "our",
    "ourselves",
];

impl Lexicon {
    /// The lexicon shipped with the worker (parsed once per process).
    #[must_use]
    pub fn builtin() -> &'static Lexicon {
        &BUILTIN
    }

    /// Parses a lexicon in the `lexicon.tsv` format.
    pub fn parse(text: &str) -> Result<Self, LexiconError> {
        let mut terms = Vec::new();
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let line = line.trim_end();
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |problem: String| LexiconError {
                line: line_no,
                problem,
            };
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() != 4 {
                return Err(err(format!(
                    "expected 4 tab-separated columns, found {}",
                    cols.len()
                )));
            }
            let weight = |s: &str| -> Result<f32, LexiconError> {
                let w: f32 = s
                    .parse()
                    .map_err(|_| err(format!("{s:?} is not a number")))?;
                if (0.0..=1.0).contains(&w) {
                    Ok(w)
                } else {
                    Err(err(format!("weight {w} is outside [0, 1]")))
                }
            };
            let untargeted = weight(cols[1])?;
            let targeted = weight(cols[2])?;
            let category = Category::parse(cols[3])
                .ok_or_else(|| err(format!("unknown category {:?}", cols[3])))?;
            terms.push(cols[0].to_owned());
            entries.push(Entry {
                untargeted,
                targeted,
                category,
            });
        }
        let matcher = TermMatcher::new(&terms).map_err(|e| LexiconError {
            line: 0,
            problem: e.to_string(),
        })?;
        let mut words_by_len: Vec<Vec<usize>> = Vec::new();
        for i in 0..matcher.len() {
            let t = matcher.term(i);
            if !t.contains(' ') {
                let len = t.chars().count();
                if words_by_len.len() <= len {
                    words_by_len.resize(len + 1, Vec::new());
                }
                words_by_len[len].push(i);
            }
        }
        Ok(Self {
            matcher,
            entries,
            words_by_len,
        })
    }

    /// Number of terms.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the lexicon has no terms.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Scores a raw message.
    #[must_use]
    pub fn score(&self, content: &str) -> Toxicity {
        self.score_normalized(content, &normalize(content))
    }

    /// Scores a message already normalised with [`normalize`] (`content` is the raw text,
    /// used to see user mentions).
    #[must_use]
    pub fn score_normalized(&self, content: &str, norm: &Normalized) -> Toxicity {
        let repaired;
        let norm = if norm.words.contains('*') {
            repaired = self.repair_self_censored(norm);
            &repaired
        } else {
            norm
        };
        // Distinct terms found; few per message, so a small vector beats a set.
        let mut found: Vec<usize> = Vec::new();
        self.matcher.for_each_match(norm, |i| {
            if !found.contains(&i) {
                found.push(i);
            }
        });
        if found.is_empty() {
            return Toxicity {
                score: 0.0,
                targeted: false,
                hits: Vec::new(),
                category: None,
                classes: None,
                lexicon_score: 0.0,
            };
        }
        let targeted = is_targeted(content, &norm.words);
        let mut hits: Vec<TermHit> = found
            .into_iter()
            .map(|i| {
                let e = &self.entries[i];
                TermHit {
                    term: self.matcher.term(i).to_owned(),
                    category: e.category,
                    weight: if targeted { e.targeted } else { e.untargeted },
                }
            })
            .collect();
        hits.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| a.term.cmp(&b.term))
        });
        let top = hits[0].weight;
        let rest_clean: f32 = hits[1..].iter().map(|h| 1.0 - h.weight).product();
        let score = (top + (1.0 - top) * 0.5 * (1.0 - rest_clean)).clamp(0.0, 1.0);
        Toxicity {
            score,
            targeted,
            hits,
            category: None,
            classes: None,
            lexicon_score: score,
        }
    }

    /// Replaces words with `*` in them by the single lexicon word they spell, if exactly one
    /// length-matching term agrees on every visible letter (at least two of them).
    fn repair_self_censored(&self, norm: &Normalized) -> Normalized {
        let mut out = String::with_capacity(norm.words.len());
        for (k, word) in norm.words.split(' ').enumerate() {
            if k > 0 {
                out.push(' ');
            }
            if !word.contains('*') {
                out.push_str(word);
                continue;
            }
            let chars: Vec<char> = word.chars().collect();
            let visible = chars.iter().filter(|&&c| c != '*').count();
            let mut pick = None;
            if visible >= 2 {
                for &i in self
                    .words_by_len
                    .get(chars.len())
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                {
                    let term = self.matcher.term(i);
                    if term.chars().zip(&chars).all(|(t, &c)| c == '*' || c == t) {
                        pick = match pick {
                            None => Some(i),
                            Some(p) if self.matcher.term(p) == term => Some(p),
                            Some(_) => None,
                        };
                        if pick.is_none() {
                            break;
                        }
                    }
                }
            }
            match pick {
                Some(i) => out.push_str(self.matcher.term(i)),
                None => out.extend(chars.iter().filter(|&&c| c != '*')),
            }
        }
        normalize(&out)
    }
}

/// The trained model shipped with the worker (`worker/data/automod/toxicity-model.bin`).
pub const BUILTIN_MODEL: &[u8] = include_bytes!("../../data/automod/toxicity-model.bin");

static BUILTIN_SCORER: LazyLock<ModelScorer> = LazyLock::new(|| ModelScorer {
    lexicon: Lexicon::builtin(),
    model: Model::from_bytes(BUILTIN_MODEL).expect("the shipped model is valid"),
});

/// The toxicity score the rules use: the model's probability that a message is abuse of a
/// harmful category, with the lexicon read first (its weights are features of the model and
/// its terms are the evidence shown to moderators).
#[derive(Debug, Clone)]
pub struct ModelScorer {
    lexicon: &'static Lexicon,
    model: Model,
}

impl ModelScorer {
    /// The shipped lexicon and model (loaded once per process).
    #[must_use]
    pub fn builtin() -> &'static ModelScorer {
        &BUILTIN_SCORER
    }

    /// A scorer with another model (for evaluation and tests).
    #[must_use]
    pub fn new(lexicon: &'static Lexicon, model: Model) -> Self {
        Self { lexicon, model }
    }

    /// The lexicon in use.
    #[must_use]
    pub fn lexicon(&self) -> &'static Lexicon {
        self.lexicon
    }

    /// Scores a raw message.
    #[must_use]
    pub fn score(&self, content: &str) -> Toxicity {
        self.score_normalized(content, &normalize(content))
    }

    /// Scores a message already normalised with [`normalize`].
    #[must_use]
    pub fn score_normalized(&self, content: &str, norm: &Normalized) -> Toxicity {
        let mut t = lexicon_reading(self.lexicon, content, norm);
        let classes = self.model.scores(&norm.words, &model::dense_features(&t));
        t.score = classes.harmful();
        t.category = Some(classes.top_harmful().0);
        t.classes = Some(classes);
        t
    }
}

/// The lexicon's score of a message, with `targeted` worked out even when no term is found
/// (the model's dense features read both).
fn lexicon_reading(lexicon: &Lexicon, content: &str, norm: &Normalized) -> Toxicity {
    let mut t = lexicon.score_normalized(content, norm);
    if t.hits.is_empty() {
        t.targeted = is_targeted(content, &norm.words);
    }
    t
}

/// The labelled sample shipped with the worker (`worker/data/automod/toxicity-sample.tsv`).
pub const SAMPLE: &str = include_str!("../../data/automod/toxicity-sample.tsv");

/// A second labelled sample, written after the lexicon was tuned and never used to tune it
/// (`worker/data/automod/toxicity-heldout.tsv`).
pub const HELDOUT: &str = include_str!("../../data/automod/toxicity-heldout.tsv");

/// How a lexicon does on a labelled sample at given warn and ban thresholds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SampleReport {
    /// Ordinary messages.
    pub ok: usize,
    /// Messages labelled `toxic` or `severe`.
    pub toxic: usize,
    /// Of those, labelled `severe`.
    pub severe: usize,
    /// Ordinary messages at or above the warn threshold (false positives), with scores.
    pub false_positives: Vec<(String, f32)>,
    /// Ordinary messages at or above the ban threshold.
    pub innocent_bans: Vec<(String, f32)>,
    /// Toxic messages below the warn threshold (false negatives), with scores.
    pub false_negatives: Vec<(String, f32)>,
    /// Severe messages below the ban threshold.
    pub severe_below_ban: Vec<(String, f32)>,
}

impl SampleReport {
    /// False-positive rate at the warn threshold.
    #[must_use]
    pub fn false_positive_rate(&self) -> f64 {
        self.false_positives.len() as f64 / self.ok.max(1) as f64
    }
    /// False-negative rate at the warn threshold.
    #[must_use]
    pub fn false_negative_rate(&self) -> f64 {
        self.false_negatives.len() as f64 / self.toxic.max(1) as f64
    }
}

/// Scores every line of a sample (`LABEL<TAB>TEXT`, labels `ok`, `toxic`, `severe`).
///
/// # Panics
/// Panics on a line with another label (the sample is data shipped in the repository).
#[must_use]
pub fn evaluate_sample(lexicon: &Lexicon, sample: &str, warn_at: f32, ban_at: f32) -> SampleReport {
    let mut r = SampleReport::default();
    for line in sample.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (label, text) = line.split_once('\t').expect("sample line has a tab");
        let s = lexicon.score(text).score;
        let item = || (text.to_owned(), s);
        match label {
            "ok" => {
                r.ok += 1;
                if s >= warn_at {
                    r.false_positives.push(item());
                }
                if s >= ban_at {
                    r.innocent_bans.push(item());
                }
            }
            "toxic" | "severe" => {
                r.toxic += 1;
                if s < warn_at {
                    r.false_negatives.push(item());
                }
                if label == "severe" {
                    r.severe += 1;
                    if s < ban_at {
                        r.severe_below_ban.push(item());
                    }
                }
            }
            other => panic!("unknown sample label {other:?}"),
        }
    }
    r
}

/// Whether a message addresses someone: a second-person word, a user mention, or three words
/// or fewer that say nothing about the writer.
fn is_targeted(content: &str, words: &str) -> bool {
    if content.contains("<@") {
        return true;
    }
    let mut count = 0;
    let mut first_person = false;
    for w in words.split(' ') {
        if SECOND_PERSON.contains(&w) {
            return true;
        }
        first_person |= FIRST_PERSON.contains(&w);
        count += 1;
    }
    count <= 3 && !first_person
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_acts_alone_only_when_sure() {
        let reading = |score: f32, lexicon_score: f32| Toxicity {
            score,
            targeted: true,
            hits: Vec::new(),
            category: Some(Class::Insult),
            classes: None,
            lexicon_score,
        };
        // Unsure and the lexicon found nothing: not acted on.
        assert_eq!(second_opinion(reading(0.6, 0.0)).score, 0.0);
        // Unsure but the lexicon agrees: the model's score stands.
        assert_eq!(second_opinion(reading(0.6, 0.3)).score, 0.6);
        // Sure: the model alone.
        assert_eq!(
            second_opinion(reading(MODEL_ALONE_FROM, 0.0)).score,
            MODEL_ALONE_FROM
        );
        // The category and the model's figures are kept for the evidence.
        assert_eq!(
            second_opinion(reading(0.6, 0.0)).category,
            Some(Class::Insult)
        );
    }

    fn score(s: &str) -> f32 {
        Lexicon::builtin().score(s).score
    }

    fn report(name: &str, r: &SampleReport) {
        println!(
            "{name}: {} ok, {} toxic ({} severe); false positives {} ({:.1}%), false negatives {} ({:.1}%), \
             innocent bans {}, severe below ban {}",
            r.ok,
            r.toxic,
            r.severe,
            r.false_positives.len(),
            r.false_positive_rate() * 100.0,
            r.false_negatives.len(),
            r.false_negative_rate() * 100.0,
            r.innocent_bans.len(),
            r.severe_below_ban.len()
        );
        for (t, s) in &r.false_positives {
            println!("  FP {s:.2} {t}");
        }
        for (t, s) in &r.false_negatives {
            println!("  FN {s:.2} {t}");
        }
        for (t, s) in &r.severe_below_ban {
            println!("  severe below ban {s:.2} {t}");
        }
    }

    #[test]
    fn heldout_sample_rates() {
        let r = evaluate_sample(Lexicon::builtin(), HELDOUT, 0.4, 0.8);
        report("held-out", &r);
        assert!(r.ok >= 60 && r.toxic >= 35, "the sample keeps its size");
        assert!(
            r.innocent_bans.is_empty(),
            "innocent messages at the ban threshold: {:?}",
            r.innocent_bans
        );
        assert!(
            r.false_positive_rate() <= 0.05,
            "false positives: {:?}",
            r.false_positives
        );
        assert!(
            r.false_negative_rate() <= 0.15,
            "false negatives: {:?}",
            r.false_negatives
        );
    }

    #[test]
    fn labelled_sample_rates() {
        let r = evaluate_sample(Lexicon::builtin(), SAMPLE, 0.4, 0.8);
        report("tuning sample", &r);
        assert!(r.ok >= 150 && r.toxic >= 70, "the sample keeps its size");
        assert!(
            r.false_positive_rate() <= 0.02,
            "false positives: {:?}",
            r.false_positives
        );
        assert!(
            r.innocent_bans.is_empty(),
            "innocent messages at the ban threshold: {:?}",
            r.innocent_bans
        );
        assert!(
            r.false_negative_rate() <= 0.05,
            "false negatives: {:?}",
            r.false_negatives
        );
    }

    fn model_score(s: &str) -> Toxicity {
        ModelScorer::builtin().score(s)
    }

    #[test]
    fn the_shipped_model_is_what_the_trainer_writes() {
        let rows = corpus::parse(corpus::CORPUS).unwrap();
        let examples: Vec<train::Example> = rows
            .iter()
            .filter(|r| r.split != corpus::Split::Test)
            .map(|r| train::Example::new(r.text, r.class, Lexicon::builtin(), train::SHIPPED.bits))
            .collect();
        let model = train::train(&examples, &train::SHIPPED);
        assert!(
            model.to_bytes() == BUILTIN_MODEL,
            "run `cargo run --release -p kyuta-worker --example train-toxicity`"
        );
    }

    #[test]
    fn the_model_reads_the_abuse_the_lexicon_missed() {
        for (s, class) in [
            ("I will find where you live and hurt you", Class::Threat),
            (
                "i'm going to ddos your house and leak your address",
                Class::Threat,
            ),
            (
                "you should just disappear forever, the world would be better",
                Class::Harassment,
            ),
            (
                "nobody will miss you if you're gone, just end it",
                Class::SelfHarm,
            ),
            ("t'es qu'un connard", Class::Insult),
            ("eres un imbécil de mierda", Class::Insult),
            ("du bist ein verdammter Idiot", Class::Insult),
        ] {
            let t = model_score(s);
            assert!(t.score >= 0.4, "{s}: {t:?}");
            assert_eq!(t.category, Some(class), "{s}: {t:?}");
        }
    }

    #[test]
    fn the_model_leaves_hard_clean_cases_and_untargeted_swearing_alone() {
        for s in [
            "can someone help me kill this boss?",
            "someone called me a moron in my DMs, can you check?",
            "I grew up in Scunthorpe",
            "holy shit this level is so fucking hard",
            "what time is the meeting tomorrow?",
        ] {
            let t = model_score(s);
            assert!(t.score < 0.4, "{s}: {t:?}");
        }
    }

    #[test]
    fn the_model_stays_within_bounds_on_the_dev_split() {
        let rows = corpus::parse(corpus::CORPUS).unwrap();
        let dev: Vec<_> = rows
            .iter()
            .filter(|r| r.split == corpus::Split::Dev)
            .collect();
        let e = corpus::Evaluation::run(dev, corpus::standard_warn_at(), |t| {
            corpus::Prediction::model(&model_score(t))
        });
        assert!(e.clean_fpr(None) <= 0.05, "{}", e.table());
        assert!(e.recall(None, Class::Profanity) <= 0.05, "{}", e.table());
        for c in [
            Class::Insult,
            Class::Harassment,
            Class::Threat,
            Class::SelfHarm,
        ] {
            assert!(e.recall(None, c) >= 0.85, "{c:?}\n{}", e.table());
        }
    }

    #[test]
    fn builtin_parses() {
        assert!(Lexicon::builtin().len() > 100);
    }

    #[test]
    fn bad_lexicons_are_rejected_with_the_line() {
        let e = Lexicon::parse("# c\nword\t0.5\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            Lexicon::parse("word\t1.5\t0.5\tinsult")
                .unwrap_err()
                .problem
                .contains("outside")
        );
        assert!(
            Lexicon::parse("word\t0.5\t0.5\tnope")
                .unwrap_err()
                .problem
                .contains("category")
        );
    }

    #[test]
    fn innocents_score_zero() {
        for s in [
            "I live near Scunthorpe",
            "the assessment is due on friday",
            "I killed it at the gym today",
            "grab a cocktail after work?",
            "the cockpit view is great",
            "my therapist says hi",
        ] {
            assert_eq!(score(s), 0.0, "{s}");
        }
    }

    #[test]
    fn targeting_raises_the_weight() {
        let self_talk = Lexicon::builtin().score("I'm such an idiot, I locked myself out");
        assert!(!self_talk.targeted);
        assert!(self_talk.score < 0.4, "{self_talk:?}");
        let aimed = Lexicon::builtin().score("you're an idiot");
        assert!(aimed.targeted);
        assert!(aimed.score >= 0.4, "{aimed:?}");
        assert!(
            Lexicon::builtin()
                .score("<@123> idiot and more words here")
                .targeted
        );
    }

    #[test]
    fn obfuscation_is_seen_through() {
        for s in [
            "f u c k you",
            "fuuuuck you",
            "f*ck you",
            "FüCK YOU",
            "fսck you",
        ] {
            let t = Lexicon::builtin().score(s);
            // the last one uses an Armenian letter we do not fold: documents the limit
            if s.contains('ս') {
                continue;
            }
            assert!(t.score >= 0.4, "{s}: {t:?}");
        }
        assert!(score("n i g g e r") >= 0.8);
        assert!(score("a$$hole") >= 0.4);
    }

    #[test]
    fn severe_content_reaches_ban_and_scores_stay_in_range() {
        assert!(score("kill yourself you worthless faggot") >= 0.8);
        let s = score("fuck you idiot moron loser bitch cunt whore kys");
        assert!((0.8..=1.0).contains(&s));
    }
}
