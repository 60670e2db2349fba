//! Messages per second through every rule of the `standard` preset, on one core, with the
//! in-process counters.
//!
//! `cargo bench -p kyuta-worker --bench automod`
//!
//! The corpus is the labelled toxicity samples (ordinary chat and abuse) plus messages with
//! links, invites, mentions, emoji and attachments, sent by 5 000 members so per-member
//! windows behave as in a busy guild.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use kyuta_worker::automod::toxicity::{HELDOUT, SAMPLE};
use kyuta_worker::automod::{Engine, GuildRules, LocalCounters, MessageContext, Preset};
use kyuta_worker::snowflake::DISCORD_EPOCH_MS;

fn corpus() -> Vec<String> {
    let mut v: Vec<String> = SAMPLE
        .lines()
        .chain(HELDOUT.lines())
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t').map(|(_, t)| t.to_owned()))
        .collect();
    v.extend(
        [
            "check this out https://github.com/kyuta-bot/kyuta/pull/12 and https://docs.rs/regex",
            "join my server discord.gg/abcdef for free stuff",
            "<@123456789012345678> <@223456789012345678> look at this",
            "😀😀😀 lol <:pepe:123456789012345678> 🎉",
            "THIS IS SO COOL I CANNOT BELIEVE IT",
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.",
        ]
        .map(str::to_owned),
    );
    v
}

fn bench(c: &mut Criterion) {
    let rules = GuildRules::compile(&Preset::Standard.config()).expect("standard preset compiles");
    let engine = Engine::new();
    let counters = LocalCounters::new();
    let corpus = corpus();
    let bytes: usize = corpus.iter().map(String::len).sum();
    let mut seq: u64 = 0;
    let base = 1_704_067_200_000u64 - DISCORD_EPOCH_MS;

    let mut group = c.benchmark_group("automod");
    group.throughput(Throughput::Elements(corpus.len() as u64));
    group.bench_function(
        format!(
            "standard preset, {} messages ({} bytes)",
            corpus.len(),
            bytes
        ),
        |b| {
            b.iter(|| {
                let mut fired = 0usize;
                for text in &corpus {
                    seq += 1;
                    // 1 ms apart, from 5 000 members.
                    let id = ((base + seq) << 22) | (seq & 0xfff);
                    let mut m = MessageContext::new(42, 7, id, 10_000 + seq % 5_000, text);
                    m.user_mentions = u32::from(text.starts_with("<@")) * 2;
                    m.attachments = u32::from(seq.is_multiple_of(10));
                    fired += block_on(engine.evaluate(&rules, &m, &counters)).len();
                }
                fired
            });
        },
    );
    group.bench_function("toxicity: lexicon only", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|t| engine.lexicon().score(t).score)
                .sum::<f32>()
        });
    });
    group.bench_function("toxicity: model (lexicon as features)", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|t| engine.scorer().score(t).score)
                .sum::<f32>()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
