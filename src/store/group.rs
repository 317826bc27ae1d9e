//! Group commit for delivery outcomes: a queue batch's deliveries run side by
//! side, and the outcomes that finish while one of them is being written go
//! to D1 together, in the next batch, instead of one round trip each.
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
use futures::channel::oneshot;
use std::cell::{Cell, RefCell};
use worker::{D1Result, Result};

/// One outcome's statements, waiting to be written, and where its results go.
struct Waiting {
    statements: Vec<Stmt>,
    done: oneshot::Sender<Result<Vec<D1Result>>>,
}

/// The outcomes waiting for the next write, and whether a write is under way.
#[derive(Default)]
pub(crate) struct GroupCommit {
    waiting: RefCell<Vec<Waiting>>,
    writing: Cell<bool>,
}

impl GroupCommit {
    /// Writes `statements` to `db` as one transaction, together with
    /// whatever other outcomes are waiting when the write starts (one D1
    /// batch). Returns this outcome's own results, in its statements' order.
    pub(crate) async fn write(&self, db: &Db, statements: Vec<Stmt>) -> Result<Vec<D1Result>> {
        let (done, result) = oneshot::channel();
        self.waiting.borrow_mut().push(Waiting { statements, done });
        if !self.writing.replace(true) {
            // This caller writes until nothing waits; the others wait for it.
            let _writer = Writer(self);
            loop {
                let group = std::mem::take(&mut *self.waiting.borrow_mut());
                if group.is_empty() {
                    break;
                }
                write_group(db, group).await;
            }
        }
        result.await.unwrap_or_else(|_| {
            Err(worker::Error::RustError(
                "the group write was abandoned".into(),
            ))
        })
    }
}

/// The caller that is writing; when it stops (done, or dropped mid-write),
/// the group is free again, and any outcome still waiting gets an error
/// rather than waiting for a writer that is gone.
struct Writer<'a>(&'a GroupCommit);

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        self.0.writing.set(false);
        self.0.waiting.borrow_mut().clear();
    }
}

/// Writes the group in one batch and hands each outcome its results; if the
/// batch fails, writes each outcome alone.
async fn write_group(db: &Db, mut group: Vec<Waiting>) {
    if group.len() == 1 {
        let alone = group.remove(0);
        hand_over(alone.done, db.batch(alone.statements).await);
        return;
    }
    let together: Vec<Stmt> = group
        .iter()
        .flat_map(|w| w.statements.iter().cloned())
        .collect();
    match db.batch(together).await {
        Ok(results) => {
            let mut results = results.into_iter();
            for w in group {
                let own: Vec<D1Result> = results.by_ref().take(w.statements.len()).collect();
                hand_over(w.done, Ok(own));
            }
        }
        Err(err) => {
            worker::console_log!(
                "{}",
                serde_json::json!({"msg": "outcomes written together failed; each is written alone",
                                   "outcomes": group.len(), "error": err.to_string()})
            );
            for w in group {
                hand_over(w.done, db.batch(w.statements).await);
            }
        }
    }
}

/// Gives an outcome its results. Its caller may be gone (the invocation
/// ended); then nobody needs them.
fn hand_over(done: oneshot::Sender<Result<Vec<D1Result>>>, results: Result<Vec<D1Result>>) {
    if done.send(results).is_err() {
        worker::console_log!("a grouped outcome's caller was gone when its write finished");
    }
}
