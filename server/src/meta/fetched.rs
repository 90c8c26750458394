//! A snapshot of named rows: the [`ReadOps`] a read job runs on when its
//! rows were fetched ahead in one statement (see `MetaStore::read_named`).
//!
//! It answers gets of the rows it holds and nothing else: a job that reads
//! past them is told so with an error, and the rows it wanted are kept
//! ([`Fetched::strayed`]), so its caller can fetch them with the others, all
//! in one statement again, and run it once more; a job that scans runs
//! again on a real snapshot. The record, not the error, decides: a job that
//! swallowed the error still runs again.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ops::Bound;

use super::engine::{ReadOps, Rows};
use crate::error::{Error, Result};

/// Rows fetched on one snapshot, by table and key (`None`: absent).
pub(super) struct Fetched {
    rows: HashMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
    /// Rows the job wanted that were not fetched.
    missing: RefCell<Vec<(&'static str, Vec<u8>)>>,
    scanned: Cell<bool>,
}

/// What a job read beyond the fetched rows.
pub(super) enum Strayed {
    /// Nothing: its answer stands.
    No,
    /// These rows, besides the fetched ones.
    Rows(Vec<(&'static str, Vec<u8>)>),
    /// A range: only a snapshot of the engine's own answers it.
    Scanned,
}

impl Fetched {
    /// The rows `named` with the `values` an engine fetched for them.
    pub(super) fn new(named: Vec<(&'static str, Vec<u8>)>, values: Vec<Option<Vec<u8>>>) -> Self {
        Fetched {
            rows: named.into_iter().zip(values).collect(),
            missing: RefCell::new(Vec::new()),
            scanned: Cell::new(false),
        }
    }

    /// What the job read beyond the fetched rows.
    pub(super) fn strayed(self) -> Strayed {
        if self.scanned.get() {
            return Strayed::Scanned;
        }
        let missing = self.missing.into_inner();
        match missing.is_empty() {
            true => Strayed::No,
            false => Strayed::Rows(missing),
        }
    }

    fn stray(&self, what: &str) -> Error {
        Error::Internal(format!(
            "a read job {what} outside the rows it named; it runs again"
        ))
    }
}

impl ReadOps for Fetched {
    fn get(&self, table: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.rows.get(&(table, key.to_vec())) {
            Some(value) => Ok(value.clone()),
            None => {
                self.missing.borrow_mut().push((table, key.to_vec()));
                Err(self.stray("read a row"))
            }
        }
    }

    fn scan(
        &self,
        _table: &'static str,
        _start: Bound<&[u8]>,
        _end: Option<&[u8]>,
        _limit: usize,
    ) -> Result<Rows> {
        self.scanned.set(true);
        Err(self.stray("scanned"))
    }

    /// As the engine it stands for: jobs name the rows they lead to.
    fn fetches_ahead(&self) -> bool {
        true
    }

    fn prefetch(&self, rows: &[(&'static str, Vec<u8>)]) -> Result<()> {
        let missing: Vec<_> = rows
            .iter()
            .filter(|(table, key)| !self.rows.contains_key(&(*table, key.clone())))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        self.missing.borrow_mut().extend(missing);
        Err(self.stray("wanted rows"))
    }
}
