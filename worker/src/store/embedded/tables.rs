//! The redb tables of the embedded store: the file's layout. Records stored as bytes are
//! JSON.

use redb::TableDefinition;

/// guild → config (JSON).
pub(super) const CONFIG: TableDefinition<u64, &[u8]> = TableDefinition::new("guild_config");
/// guild → last case number assigned.
pub(super) const CASE_SEQ: TableDefinition<u64, u64> = TableDefinition::new("case_seq");
/// (guild, number) → case (JSON).
pub(super) const CASES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("cases");
/// (guild, idempotency key) → number.
pub(super) const CASE_KEYS: TableDefinition<(u64, &str), u64> = TableDefinition::new("case_keys");
/// (guild, user, number) → (): cases per user.
pub(super) const CASES_BY_USER: TableDefinition<(u64, u64, u64), ()> =
    TableDefinition::new("cases_by_user");
/// "guild:user:kind" → schedule record (JSON).
pub(super) const SCHEDULES: TableDefinition<&str, &[u8]> = TableDefinition::new("schedules");
/// (guild, metric, hour) → value.
pub(super) const COUNTERS: TableDefinition<(u64, &str, u64), u64> =
    TableDefinition::new("counters");
