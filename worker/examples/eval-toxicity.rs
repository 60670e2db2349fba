//! Prints the evaluation in `docs/automod.md`: precision, recall and false-positive rate per
//! category and per language at the `standard` preset's warn tier, for the lexicon alone and
//! for the shipped model, and as the rules act (the model with the lexicon as a second opinion),
//! on the held-out test split of the corpus.
//!
//! `cargo run --release -p kyuta-worker --example eval-toxicity [-- SPLIT [errors]]`
//!
//! SPLIT is `test` (default), `dev` or `train`; `errors` also lists the model's mistakes at
//! the warn tier (clean or profanity flagged, abuse missed).

use kyuta_worker::automod::toxicity::corpus::{self, Evaluation, Prediction, Split};
use kyuta_worker::automod::toxicity::{MODEL_ALONE_FROM, ModelScorer, second_opinion};

fn main() -> anyhow::Result<()> {
    let split = match std::env::args().nth(1).as_deref() {
        None | Some("test") => Split::Test,
        Some("dev") => Split::Dev,
        Some("train") => Split::Train,
        Some(other) => anyhow::bail!("unknown split {other:?} (test, dev or train)"),
    };
    let errors = std::env::args().nth(2).as_deref() == Some("errors");
    let rows = corpus::parse(corpus::CORPUS)?;
    let rows: Vec<_> = rows.iter().filter(|r| r.split == split).collect();
    let warn_at = corpus::standard_warn_at();
    let scorer = ModelScorer::builtin();
    let lexicon = Evaluation::run(rows.iter().copied(), warn_at, |t| {
        Prediction::lexicon(&scorer.score(t))
    });
    let model = Evaluation::run(rows.iter().copied(), warn_at, |t| {
        Prediction::model(&scorer.score(t))
    });
    println!(
        "{} messages of the {split:?} split, warn tier {warn_at} (standard preset)\n",
        rows.len()
    );
    println!("### Lexicon alone\n\n{}", lexicon.table());
    println!("### Model (lexicon as features)\n\n{}", model.table());
    let rules = Evaluation::run(rows.iter().copied(), warn_at, |t| {
        Prediction::model(&second_opinion(scorer.score(t)))
    });
    println!(
        "### As the rules act (the model alone from {MODEL_ALONE_FROM}, below it only with the lexicon)\n\n{}",
        rules.table()
    );
    if errors {
        println!("### Model mistakes at the warn tier\n");
        for r in &rows {
            let t = scorer.score(r.text);
            if (t.score >= warn_at) != r.class.is_harmful() {
                println!(
                    "- {} {:?} {:.2} {:?}: {}",
                    r.lang,
                    r.class,
                    t.score,
                    t.category,
                    r.text.escape_debug()
                );
            }
        }
    }
    Ok(())
}
