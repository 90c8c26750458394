//! Turns: the writers of one PostgreSQL database, on every replica, take
//! turns on the rows every commit of theirs rewrites (a namespace's
//! record, a sandbox's usage), as session advisory locks taken before the
//! transaction begins, rather than run side by side and have all but one
//! fail at commit. A hint only: correctness rests on the SERIALIZABLE
//! transaction.

use crate::meta::committer::Pending;
use crate::meta::engine::WriteJob;
use crate::meta::tables::{KeyShape, Table};

/// The turns of a group's jobs (see `WriteJob::turns`), sorted and
/// without repeats: a session advisory lock per row, keyed by the first
/// eight bytes of the SHA-256 of table and key (and the schema's name, as
/// the other locks are).
pub(super) fn turn_keys(group: &[Pending]) -> Vec<i64> {
    let mut keys: Vec<i64> = group
        .iter()
        .flat_map(|pending| turn_keys_of(&pending.job))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Whether sorted turns `held` include every turn `job` wants: then it
/// can join a group that holds them.
pub(super) fn holds_all(held: &[i64], job: &WriteJob) -> bool {
    turn_keys_of(job)
        .iter()
        .all(|k| held.binary_search(k).is_ok())
}

/// The turns one job wants.
fn turn_keys_of(job: &WriteJob) -> Vec<i64> {
    job.turns
        .iter()
        .map(|(table, key)| turn_key(table, key))
        .collect()
}

/// The turn of the row at `key` of `table`: the advisory lock its writers
/// take is this key XOR `hashtextextended(current_schema(), 0)` (see
/// [`take_turns`]). Public so that a test can hold a turn from outside.
pub fn turn_of<K: KeyShape, V>(table: &Table<K, V>, key: K::Ref<'_>) -> i64 {
    turn_key(table.name, &K::encode(key))
}

fn turn_key(table: &str, key: &[u8]) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(table.as_bytes())
        .chain_update([0])
        .chain_update(key)
        .finalize();
    i64::from_be_bytes(digest[..8].try_into().expect("eight bytes"))
}

/// The statement that takes sorted `keys` as turns, with the keys it
/// takes. Sorted, so writers that want several take them in one order and
/// never wait on each other in a cycle; literals, so the statement needs
/// no prepare of its own before the BEGIN it goes with. Held until the
/// group has committed, so the next writer's snapshot sees it. `None`:
/// no turns.
pub(super) fn take_turns(keys: &[i64]) -> Option<(String, &[i64])> {
    if keys.is_empty() {
        return None;
    }
    let list: Vec<String> = keys.iter().map(i64::to_string).collect();
    let statement = format!(
        "SELECT count(pg_advisory_lock(hashtextextended(current_schema(), 0) # k)) \
         FROM unnest('{{{}}}'::int8[]) AS k",
        list.join(",")
    );
    Some((statement, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanting(rows: &[&[u8]]) -> WriteJob {
        let mut job = WriteJob::new(Box::new(|_| Ok(())));
        job.turns = rows
            .iter()
            .map(|key| ("namespaces", key.to_vec()))
            .collect();
        job
    }

    #[test]
    fn a_job_joins_a_group_only_holding_every_turn_it_wants() {
        let held = turn_keys_of(&wanting(&[b"a", b"b"]));
        let mut sorted = held.clone();
        sorted.sort_unstable();
        assert!(holds_all(&sorted, &wanting(&[b"b"])));
        assert!(holds_all(&sorted, &wanting(&[b"a", b"b"])));
        assert!(holds_all(&sorted, &wanting(&[])));
        assert!(!holds_all(&sorted, &wanting(&[b"a", b"c"])));
        // The same key in another table is another turn.
        let mut other_table = wanting(&[b"a"]);
        other_table.turns[0].0 = "usage";
        assert!(!holds_all(&sorted, &other_table));
    }
}
