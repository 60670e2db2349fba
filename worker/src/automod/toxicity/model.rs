//! The toxicity model: a multinomial logistic regression over hashed character n-grams and
//! words of the normalised text, plus the lexicon's per-category weights as dense features.
//! It is trained by `cargo run --release -p kyuta-worker --example train-toxicity` on the
//! corpus in `worker/data/automod/corpus/` and shipped as
//! `worker/data/automod/toxicity-model.bin` (weights quantised to `i8`, one scale per
//! category).
//!
//! File format (little-endian): the magic `KYTOX1`, one byte each for the hash bits, the
//! number of categories and the number of dense features, then `f32` biases, `f32` scales
//! and `f32` dense weights (feature-major), then `2^bits × categories` `i8` weights
//! (feature-major, so one feature's weights share a cache line).

use serde::Serialize;

use super::{Category, Toxicity};

/// What the model tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Ordinary messages, including the hard cases (games, quotes, places, medicine).
    Clean,
    /// Swearing aimed at nobody; never punished on its own.
    Profanity,
    /// Insults aimed at someone.
    Insult,
    /// Harassment without swear words (exclusion, intimidation, pile-ons).
    Harassment,
    /// Threats of violence, doxxing and swatting.
    Threat,
    /// Incitement to self-harm or suicide.
    SelfHarm,
    /// Hate against a group.
    IdentityHate,
    /// Sexual harassment.
    Sexual,
}

/// Every class, in the order of the model's outputs.
pub const CLASSES: [Class; 8] = [
    Class::Clean,
    Class::Profanity,
    Class::Insult,
    Class::Harassment,
    Class::Threat,
    Class::SelfHarm,
    Class::IdentityHate,
    Class::Sexual,
];

/// Number of classes.
pub const N_CLASSES: usize = CLASSES.len();

/// Dense features: the lexicon's highest weight in each of its categories, and whether the
/// message addresses someone.
pub const N_DENSE: usize = 7;

/// Hash bits of the shipped model (2^17 rows of 8 weights: 1 MiB).
pub const HASH_BITS: u8 = 17;

const MAGIC: &[u8; 6] = b"KYTOX1";

impl Class {
    /// The name used in the corpus, evidence and `/automod test`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Clean => "clean",
            Self::Profanity => "profanity",
            Self::Insult => "insult",
            Self::Harassment => "harassment",
            Self::Threat => "threat",
            Self::SelfHarm => "self_harm",
            Self::IdentityHate => "identity_hate",
            Self::Sexual => "sexual",
        }
    }

    /// Parses a name given by [`Class::name`].
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        CLASSES.into_iter().find(|c| c.name() == s)
    }

    /// Whether the class is abuse that rules act on (not clean, not untargeted swearing).
    #[must_use]
    pub fn is_harmful(self) -> bool {
        !matches!(self, Self::Clean | Self::Profanity)
    }

    /// Index in [`CLASSES`].
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The dense features of a message, from the lexicon's reading of it.
#[must_use]
pub fn dense_features(lexicon: &Toxicity) -> [f32; N_DENSE] {
    let mut d = [0.0; N_DENSE];
    for h in &lexicon.hits {
        let i = match h.category {
            Category::Slur => 0,
            Category::Hate => 1,
            Category::Threat => 2,
            Category::Sexual => 3,
            Category::Insult => 4,
            Category::Profanity => 5,
        };
        d[i] = f32::max(d[i], h.weight);
    }
    d[6] = f32::from(u8::from(lexicon.targeted));
    d
}

#[inline]
fn finish(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^ (h >> 16)
}

const FNV_PRIME: u32 = 0x0100_0193;
const SEED_CHARS: u32 = 0x811c_9dc5;
const SEED_WORDS: u32 = 0x9e37_79b9;
const SEED_BIGRAMS: u32 = 0x85eb_ca6b;

#[inline]
fn fnv(seed: u32, bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(seed, |h, &b| (h ^ u32::from(b)).wrapping_mul(FNV_PRIME))
}

/// Calls `f` with the hash of every feature of normalised words (`Normalized::words`):
/// byte n-grams of length 2 to 5 over the words padded with spaces, each word and each pair
/// of neighbouring words. Words of digits only (user ids in mentions) are left out.
/// Returns the number of features.
pub fn for_each_hashed(words: &str, mut f: impl FnMut(u32)) -> u32 {
    let mut padded = Vec::with_capacity(words.len() + 2);
    padded.push(b' ');
    let mut n = 0;
    let mut prev: Option<u32> = None;
    for w in words.split(' ') {
        if w.is_empty() || w.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        padded.extend_from_slice(w.as_bytes());
        padded.push(b' ');
        let hw = fnv(SEED_WORDS, w.as_bytes());
        f(finish(hw));
        n += 1;
        if let Some(p) = prev {
            f(finish(
                (p ^ hw.rotate_left(13) ^ SEED_BIGRAMS).wrapping_mul(FNV_PRIME),
            ));
            n += 1;
        }
        prev = Some(hw);
    }
    for i in 0..padded.len().saturating_sub(1) {
        let mut h = SEED_CHARS;
        for (k, &b) in padded[i..].iter().take(5).enumerate() {
            h = (h ^ u32::from(b)).wrapping_mul(FNV_PRIME);
            if k >= 1 {
                f(finish(h));
                n += 1;
            }
        }
    }
    n
}

/// A model that cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("toxicity model: {0}")]
pub struct ModelError(pub String);

/// Trained weights, as the trainer produces them and the file stores them.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    bits: u8,
    bias: [f32; N_CLASSES],
    scales: [f32; N_CLASSES],
    dense: [[f32; N_CLASSES]; N_DENSE],
    weights: Vec<i8>,
}

/// The model's reading of one message.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassScores(pub [f32; N_CLASSES]);

impl ClassScores {
    /// The probability of one class.
    #[must_use]
    pub fn get(&self, c: Class) -> f32 {
        self.0[c.index()]
    }

    /// The probability that the message is abuse of any harmful class.
    #[must_use]
    pub fn harmful(&self) -> f32 {
        CLASSES
            .iter()
            .filter(|c| c.is_harmful())
            .map(|&c| self.get(c))
            .sum::<f32>()
            .clamp(0.0, 1.0)
    }

    /// The most likely harmful class and its probability.
    #[must_use]
    pub fn top_harmful(&self) -> (Class, f32) {
        CLASSES
            .iter()
            .filter(|c| c.is_harmful())
            .map(|&c| (c, self.get(c)))
            .fold(
                (Class::Insult, f32::MIN),
                |a, b| if b.1 > a.1 { b } else { a },
            )
    }
}

impl Model {
    /// Builds a model from float weights (feature-major, `2^bits × N_CLASSES`), quantising
    /// them to `i8` with one scale per class.
    ///
    /// # Panics
    /// Panics if `weights` has the wrong length (a programming error in the trainer).
    #[must_use]
    pub fn quantize(
        bits: u8,
        bias: [f32; N_CLASSES],
        dense: [[f32; N_CLASSES]; N_DENSE],
        weights: &[f32],
    ) -> Self {
        assert_eq!(weights.len(), (1usize << bits) * N_CLASSES);
        let mut scales = [0.0f32; N_CLASSES];
        for row in weights.chunks_exact(N_CLASSES) {
            for (s, w) in scales.iter_mut().zip(row) {
                *s = s.max(w.abs());
            }
        }
        for s in &mut scales {
            *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
        }
        let q = weights
            .chunks_exact(N_CLASSES)
            .flat_map(|row| {
                row.iter().zip(scales).map(|(w, s)| {
                    // In [-127, 127] by construction of the scale.
                    #[allow(clippy::cast_possible_truncation)]
                    let v = (w / s).round().clamp(-127.0, 127.0) as i8;
                    v
                })
            })
            .collect();
        Self {
            bits,
            bias,
            scales,
            dense,
            weights: q,
        }
    }

    /// Reads a model file.
    pub fn from_bytes(b: &[u8]) -> Result<Self, ModelError> {
        let err = |s: &str| ModelError(s.to_owned());
        let rest = b
            .strip_prefix(MAGIC)
            .ok_or_else(|| err("not a model file"))?;
        let [bits, classes, dense, rest @ ..] = rest else {
            return Err(err("truncated header"));
        };
        if usize::from(*classes) != N_CLASSES || usize::from(*dense) != N_DENSE {
            return Err(err("classes or dense features differ from this build"));
        }
        if !(8..=24).contains(bits) {
            return Err(err("hash bits out of range"));
        }
        let floats = N_CLASSES * 2 + N_CLASSES * N_DENSE;
        let rows = 1usize << bits;
        if rest.len() != floats * 4 + rows * N_CLASSES {
            return Err(err("wrong length"));
        }
        let (head, weights) = rest.split_at(floats * 4);
        let mut f = head
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let mut next = || f.next().unwrap_or(0.0);
        let bias = std::array::from_fn(|_| next());
        let scales = std::array::from_fn(|_| next());
        let dense = std::array::from_fn(|_| std::array::from_fn(|_| next()));
        Ok(Self {
            bits: *bits,
            bias,
            scales,
            dense,
            weights: weights.iter().map(|&w| i8::from_le_bytes([w])).collect(),
        })
    }

    /// Writes the model file.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.weights.len() + 512);
        out.extend_from_slice(MAGIC);
        // N_CLASSES and N_DENSE are small constants.
        #[allow(clippy::cast_possible_truncation)]
        out.extend_from_slice(&[self.bits, N_CLASSES as u8, N_DENSE as u8]);
        for v in self
            .bias
            .iter()
            .chain(&self.scales)
            .chain(self.dense.iter().flatten())
        {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend(self.weights.iter().map(|w| w.to_le_bytes()[0]));
        out
    }

    /// Hash bits.
    #[must_use]
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Class probabilities for normalised words and the dense features.
    #[must_use]
    pub fn scores(&self, words: &str, dense: &[f32; N_DENSE]) -> ClassScores {
        let mask = (1u32 << self.bits) - 1;
        let mut acc = [0i32; N_CLASSES];
        let n = for_each_hashed(words, |h| {
            let at = (h & mask) as usize * N_CLASSES;
            let row = &self.weights[at..at + N_CLASSES];
            for (a, &w) in acc.iter_mut().zip(row) {
                *a += i32::from(w);
            }
        });
        let norm = 1.0 / (n.max(1) as f32).sqrt();
        let mut logits = self.bias;
        for c in 0..N_CLASSES {
            // |acc| ≤ 127 × features: far inside f32's exact integers for any message.
            #[allow(clippy::cast_precision_loss)]
            let a = acc[c] as f32;
            logits[c] += self.scales[c] * a * norm;
            for (d, w) in dense.iter().zip(&self.dense) {
                logits[c] += d * w[c];
            }
        }
        ClassScores(softmax(logits))
    }
}

/// Softmax of logits.
#[must_use]
pub fn softmax(mut z: [f32; N_CLASSES]) -> [f32; N_CLASSES] {
    let max = z.iter().copied().fold(f32::MIN, f32::max);
    let mut sum = 0.0;
    for v in &mut z {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in &mut z {
        *v /= sum;
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for c in CLASSES {
            assert_eq!(Class::parse(c.name()), Some(c));
        }
        assert_eq!(Class::parse("nope"), None);
    }

    #[test]
    fn hashing_skips_ids_and_counts_features() {
        let mut a = Vec::new();
        let n = for_each_hashed("hi 123456 there", |h| a.push(h));
        let mut b = Vec::new();
        for_each_hashed("hi there", |h| b.push(h));
        assert_eq!(a, b);
        assert_eq!(n as usize, a.len());
        assert!(for_each_hashed("", |_| {}) == 0);
    }

    #[test]
    fn files_round_trip_and_bad_files_are_rejected() {
        let bits = 8;
        let w: Vec<f32> = (0..(1 << bits) * N_CLASSES)
            .map(|i| ((i % 17) as f32 - 8.0) / 4.0)
            .collect();
        let m = Model::quantize(bits, [0.5; N_CLASSES], [[0.25; N_CLASSES]; N_DENSE], &w);
        let bytes = m.to_bytes();
        assert_eq!(Model::from_bytes(&bytes).unwrap(), m);
        assert!(Model::from_bytes(b"nope").is_err());
        assert!(Model::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let s = m.scores("some words", &[0.0; N_DENSE]);
        assert!((s.0.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
}
