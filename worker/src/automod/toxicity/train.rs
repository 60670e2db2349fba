//! Training of the toxicity [`Model`]: softmax regression by stochastic gradient descent with
//! per-weight step sizes (AdaGrad) and L2 decay, in a fixed order drawn from a seed, so the
//! same corpus and settings give the same file byte for byte.

use super::model::{Class, Model, N_CLASSES, N_DENSE, dense_features, for_each_hashed, softmax};
use super::{Lexicon, lexicon_reading, normalize};

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// Hash bits (the model has `2^bits` rows).
    pub bits: u8,
    /// Passes over the training set.
    pub epochs: u32,
    /// AdaGrad learning rate.
    pub learning_rate: f32,
    /// L2 decay on the weights a message touches.
    pub l2: f32,
    /// Weight of a clean or profane message relative to an abusive one. The corpus has
    /// about as many messages of each abusive category as of clean ones, far from what a
    /// server sees; weighting the harmless ones up keeps text unlike anything in the corpus
    /// on the clean side.
    pub harmless_weight: f32,
    /// Seed of the order in which messages are seen.
    pub seed: u64,
}

/// The settings of the shipped model, chosen by training on the train split and comparing on
/// the dev split; the shipped model is then trained on both.
pub const SHIPPED: TrainConfig = TrainConfig {
    bits: super::model::HASH_BITS,
    epochs: 20,
    learning_rate: 0.2,
    l2: 1e-5,
    harmless_weight: 6.0,
    seed: 18,
};

/// One message ready for training: hashed feature rows, dense features and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Feature rows (already masked to the hash size), with repeats.
    pub rows: Vec<u32>,
    /// Dense features.
    pub dense: [f32; N_DENSE],
    /// Label.
    pub class: Class,
}

impl Example {
    /// Extracts the features of `text` the way the worker does at run time.
    #[must_use]
    pub fn new(text: &str, class: Class, lexicon: &Lexicon, bits: u8) -> Self {
        let norm = normalize(text);
        let lex = lexicon_reading(lexicon, text, &norm);
        let mask = (1u32 << bits) - 1;
        let mut rows = Vec::new();
        for_each_hashed(&norm.words, |h| rows.push(h & mask));
        Self {
            rows,
            dense: dense_features(&lex),
            class,
        }
    }
}

/// SplitMix64: a small, well-mixed generator, written here so that the training order does
/// not depend on a crate's version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is a slice length; the modulo bias is irrelevant for shuffling.
        #[allow(clippy::cast_possible_truncation)]
        let v = (self.next() % n as u64) as usize;
        v
    }
}

struct Param {
    w: f32,
    g2: f32,
}

impl Param {
    #[inline]
    fn step(&mut self, grad: f32, lr: f32) {
        self.g2 += grad * grad;
        self.w -= lr * grad / (self.g2 + 1e-6).sqrt();
    }
}

fn params(n: usize) -> Vec<Param> {
    (0..n).map(|_| Param { w: 0.0, g2: 0.0 }).collect()
}

/// Trains a model on `examples`.
#[must_use]
pub fn train(examples: &[Example], cfg: &TrainConfig) -> Model {
    let rows = 1usize << cfg.bits;
    let mut w = params(rows * N_CLASSES);
    let mut bias = params(N_CLASSES);
    let mut dense = params(N_DENSE * N_CLASSES);
    let mut rng = SplitMix(cfg.seed);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    for _ in 0..cfg.epochs {
        for i in (1..order.len()).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        for &k in &order {
            let ex = &examples[k];
            // Feature counts are small integers.
            #[allow(clippy::cast_precision_loss)]
            let v = 1.0 / (ex.rows.len().max(1) as f32).sqrt();
            let mut z: [f32; N_CLASSES] = std::array::from_fn(|c| bias[c].w);
            for &r in &ex.rows {
                let at = r as usize * N_CLASSES;
                for (c, zc) in z.iter_mut().enumerate() {
                    *zc += w[at + c].w * v;
                }
            }
            for (d, x) in ex.dense.iter().enumerate() {
                for (c, zc) in z.iter_mut().enumerate() {
                    *zc += dense[d * N_CLASSES + c].w * x;
                }
            }
            let p = softmax(z);
            let weight = if ex.class.is_harmful() {
                1.0
            } else {
                cfg.harmless_weight
            };
            let g: [f32; N_CLASSES] = std::array::from_fn(|c| {
                weight * (p[c] - f32::from(u8::from(c == ex.class.index())))
            });
            for &r in &ex.rows {
                let at = r as usize * N_CLASSES;
                for (c, gc) in g.iter().enumerate() {
                    let pw = &mut w[at + c];
                    let grad = gc * v + cfg.l2 * pw.w;
                    pw.step(grad, cfg.learning_rate);
                }
            }
            for (d, x) in ex.dense.iter().enumerate() {
                for (c, gc) in g.iter().enumerate() {
                    let pw = &mut dense[d * N_CLASSES + c];
                    let grad = gc * x + cfg.l2 * pw.w;
                    pw.step(grad, cfg.learning_rate);
                }
            }
            for (b, gc) in bias.iter_mut().zip(g) {
                b.step(gc, cfg.learning_rate);
            }
        }
    }
    let flat: Vec<f32> = w.iter().map(|p| p.w).collect();
    Model::quantize(
        cfg.bits,
        std::array::from_fn(|c| bias[c].w),
        std::array::from_fn(|d| std::array::from_fn(|c| dense[d * N_CLASSES + c].w)),
        &flat,
    )
}
