//! Group commit for delivery outcomes: a queue batch's deliveries run side by
//! side, and the outcomes that finish while one of them is being written go
//! to D1 together, in the next batch, instead of one round trip each
//! ([`Coalesce`]).
//!
//! Nothing waits for a timer or for a slow destination: the first outcome is
//! written at once, and an outcome waits at most for the one write already
//! under way. So no outcome outlives its lease while it waits (a batch held
//! until its slowest destination answered would), and a lone outcome costs
//! what it did alone.
//!
//! Each outcome's statements stay together and in order within the shared
//! batch (one transaction). If that batch fails, each outcome is written
//! again alone, so one outcome's failure cannot fail the others.
//!
//! The writer belongs to one [`Db`](super::Db), which belongs to one
//! invocation: outcomes of different requests are never written together,
//! as a Worker must not finish one request's I/O on behalf of another.

use super::{Db, Stmt};
use crate::coalesce::Coalesce;
use worker::{D1Result, Result};

/// The outcomes of one invocation, each a group of statements, written
/// together as they come.
#[derive(Default)]
pub(crate) struct GroupCommit(Coalesce<Vec<Stmt>, Result<Vec<D1Result>>>);

impl GroupCommit {
    /// Writes `statements` to `db` as one transaction, together with
    /// whatever other outcomes are waiting when the write starts (one D1
    /// batch). Returns this outcome's own results, in its statements' order.
    pub(crate) async fn write(&self, db: &Db, statements: Vec<Stmt>) -> Result<Vec<D1Result>> {
        self.0
            .submit(statements, |group| write_group(db, group))
            .await
            .unwrap_or_else(|| {
                Err(worker::Error::RustError(
                    "the group write was abandoned".into(),
                ))
            })
    }
}

/// Writes the group in one batch and gives each outcome its own results; if
/// the batch fails, writes each outcome alone.
async fn write_group(db: &Db, mut group: Vec<Vec<Stmt>>) -> Vec<Result<Vec<D1Result>>> {
    if group.len() == 1 {
        return vec![db.batch(group.remove(0)).await];
    }
    let together: Vec<Stmt> = group.iter().flatten().cloned().collect();
    match db.batch(together).await {
        Ok(results) => {
            let mut results = results.into_iter();
            group
                .iter()
                .map(|own| Ok(results.by_ref().take(own.len()).collect()))
                .collect()
        }
        Err(err) => {
            worker::console_log!(
                "{}",
                serde_json::json!({"msg": "outcomes written together failed; each is written alone",
                                   "outcomes": group.len(), "error": err.to_string()})
            );
            let mut alone = Vec::with_capacity(group.len());
            for statements in group {
                alone.push(db.batch(statements).await);
            }
            alone
        }
    }
}
