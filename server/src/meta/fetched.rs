//! A snapshot of named rows: the [`ReadOps`] a read job runs on when its
//! rows were fetched ahead in one statement (see `MetaStore::read_named`).
//!
//! It answers gets of the rows it holds and nothing else: a job that reads
//! past them (another row, a scan) is told so with an error and marked
//! [`Fetched::strayed`], and its caller runs it again on a real snapshot.
//! The mark, not the error, decides: a job that swallowed the error still
//! runs again.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Bound;

use super::engine::{ReadOps, Rows};
use crate::error::{Error, Result};

/// Rows fetched on one snapshot, by table and key (`None`: absent).
pub(super) struct Fetched {
    rows: HashMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
    strayed: Cell<bool>,
}

impl Fetched {
    /// The rows `named` with the `values` an engine fetched for them.
    pub(super) fn new(named: Vec<(&'static str, Vec<u8>)>, values: Vec<Option<Vec<u8>>>) -> Self {
        Fetched {
            rows: named.into_iter().zip(values).collect(),
            strayed: Cell::new(false),
        }
    }

    /// Whether the job read anything it had not named.
    pub(super) fn strayed(&self) -> bool {
        self.strayed.get()
    }

    fn stray(&self, what: &str) -> Error {
        self.strayed.set(true);
        Error::Internal(format!(
            "a read job {what} outside the rows it named; it runs again on a snapshot"
        ))
    }
}

impl ReadOps for Fetched {
    fn get(&self, table: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.rows.get(&(table, key.to_vec())) {
            Some(value) => Ok(value.clone()),
            None => Err(self.stray("read a row")),
        }
    }

    fn scan(
        &self,
        _table: &'static str,
        _start: Bound<&[u8]>,
        _end: Option<&[u8]>,
        _limit: usize,
    ) -> Result<Rows> {
        Err(self.stray("scanned"))
    }

    /// As the engine it stands for: jobs name the rows they lead to.
    fn fetches_ahead(&self) -> bool {
        true
    }

    fn prefetch(&self, rows: &[(&'static str, Vec<u8>)]) -> Result<()> {
        if rows
            .iter()
            .all(|(table, key)| self.rows.contains_key(&(*table, key.clone())))
        {
            Ok(())
        } else {
            Err(self.stray("wanted rows"))
        }
    }
}
