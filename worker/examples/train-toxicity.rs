//! Trains the toxicity model on the train and dev splits of the corpus and writes
//! `worker/data/automod/toxicity-model.bin`, the file the worker ships. The test split is
//! never read here.
//!
//! `cargo run --release -p kyuta-worker --example train-toxicity`
//!
//! The order of training is drawn from a fixed seed, so the file is the same byte for byte
//! on every run; `git diff --stat` after running it shows whether the shipped weights match
//! the corpus and the code.
//!
//! To try other settings without touching the shipped file, training on the train split
//! alone and printing the evaluation on the dev split:
//! `-- --try EPOCHS LEARNING_RATE L2 HARMLESS_WEIGHT`.

use anyhow::Context as _;
use kyuta_worker::automod::toxicity::corpus::{self, Split};
use kyuta_worker::automod::toxicity::train::{Example, SHIPPED, TrainConfig, train};
use kyuta_worker::automod::toxicity::{Lexicon, ModelScorer};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cfg, write) = match args.as_slice() {
        [] => (SHIPPED, true),
        [flag, epochs, lr, l2, w] if flag == "--try" => (
            TrainConfig {
                epochs: epochs.parse()?,
                learning_rate: lr.parse()?,
                l2: l2.parse()?,
                harmless_weight: w.parse()?,
                ..SHIPPED
            },
            false,
        ),
        _ => anyhow::bail!("usage: train-toxicity [--try EPOCHS LEARNING_RATE L2 HARMLESS_WEIGHT]"),
    };
    let rows = corpus::parse(corpus::CORPUS)?;
    let lexicon = Lexicon::builtin();
    let examples: Vec<Example> = rows
        .iter()
        .filter(|r| r.split == Split::Train || (write && r.split == Split::Dev))
        .map(|r| Example::new(r.text, r.class, lexicon, cfg.bits))
        .collect();
    let started = std::time::Instant::now();
    let model = train(&examples, &cfg);
    let bytes = model.to_bytes();
    println!(
        "trained on {} messages in {:.1} s with {cfg:?}",
        examples.len(),
        started.elapsed().as_secs_f64(),
    );
    if write {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/automod/toxicity-model.bin"
        );
        std::fs::write(path, &bytes).with_context(|| format!("writing {path}"))?;
        println!("wrote {} bytes to {path}", bytes.len());
    }
    if write {
        return Ok(());
    }
    let scorer = ModelScorer::new(lexicon, model);
    let dev: Vec<_> = rows.iter().filter(|r| r.split == Split::Dev).collect();
    let warn_at = corpus::standard_warn_at();
    let e = corpus::Evaluation::run(dev, warn_at, |t| {
        corpus::Prediction::model(&scorer.score(t))
    });
    println!("dev split, warn at {warn_at}:\n\n{}", e.table());
    Ok(())
}
