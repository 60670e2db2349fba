//! The `Degraded` reason for shards the gateway closed for good, from the close code their
//! load carries.

use kyuta_operator::decide::{CloseReason, GatewayClosed, Load, gateway_closed};
use rstest::rstest;

fn closed(shard: u32, code: u16, shards: u32) -> Load {
    Load {
        closed: Some(GatewayClosed {
            shard,
            code,
            shards,
        }),
        ..Load::unknown()
    }
}

#[rstest]
#[case::token(4004, CloseReason::TokenInvalid, "TokenInvalid", "Reset Token")]
#[case::shard(4010, CloseReason::InvalidShard, "InvalidShard", "shard id past")]
#[case::sharding(
    4011,
    CloseReason::ShardingRequired,
    "ShardingRequired",
    "raise spec.shards.count"
)]
#[case::version(4012, CloseReason::InvalidApiVersion, "InvalidApiVersion", "upgrade")]
#[case::intents(4013, CloseReason::InvalidIntents, "InvalidIntents", "unknown intent")]
#[case::privileged(
    4014,
    CloseReason::DisallowedIntents,
    "DisallowedIntents",
    "enable the Message Content and Server Members intents"
)]
#[case::other(4999, CloseReason::GatewayClosed, "GatewayClosed", "worker's log")]
fn each_fatal_code_has_its_reason_and_fix(
    #[case] code: u16,
    #[case] reason: CloseReason,
    #[case] name: &str,
    #[case] fix: &str,
) {
    let (got, message) = gateway_closed(&closed(3, code, 1)).expect("degraded");
    assert_eq!(got, reason);
    assert_eq!(got.as_str(), name);
    assert!(
        message.contains(&format!("shard 3 for good with close code {code}")),
        "{message}"
    );
    assert!(message.contains(fix), "{message}");
    assert!(!message.contains("other shard"), "{message}");
}

#[test]
fn several_shards_are_counted_and_no_close_is_no_degradation() {
    let (_, message) = gateway_closed(&closed(0, 4014, 4)).unwrap();
    assert!(
        message.contains("shard 0 and 3 other shard(s)"),
        "{message}"
    );
    assert_eq!(gateway_closed(&Load::unknown()), None);
    let healthy = Load {
        guilds: Some(10),
        fresh_shards: 2,
        shards: 2,
        ..Load::unknown()
    };
    assert_eq!(gateway_closed(&healthy), None);
}
