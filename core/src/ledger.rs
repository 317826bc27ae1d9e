//! The capacity ledger's counters: what this isolate asked of D1, R2 and the
//! queue, per path (the ack path, delivery, the sweeper, the management API).
//!
//! D1 reports with every result the rows it read and wrote, counting an index
//! entry as a row as it bills them; the store adds each result here, so the
//! figures are D1's own, not estimates. R2 and queue operations are counted
//! where they are made. The counters live in the isolate and start at zero
//! with it: `GET /api/v1/metrics` shows them as counters (a restart is a
//! reset), and the benchmark reads them from its one local isolate before and
//! after a measured step to print figures per webhook.

use std::cell::RefCell;

/// Where the relay's work comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `POST /ep_…`: the ack path (and what it finishes after the answer).
    Ingest,
    /// The queue consumers (deliveries and dead letters).
    Delivery,
    /// The cron sweeper.
    Sweep,
    /// The management API and the dashboard.
    Api,
}

impl Path {
    pub const ALL: [Path; 4] = [Path::Ingest, Path::Delivery, Path::Sweep, Path::Api];

    pub fn as_str(self) -> &'static str {
        match self {
            Path::Ingest => "ingest",
            Path::Delivery => "delivery",
            Path::Sweep => "sweep",
            Path::Api => "api",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What one path asked of storage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Calls awaited on D1 (a batch is one).
    pub d1_round_trips: u64,
    /// Statements D1 ran (each statement of a batch counts).
    pub d1_statements: u64,
    pub d1_rows_read: u64,
    /// Rows written as D1 bills them: each index entry touched is a row.
    pub d1_rows_written: u64,
    /// Time D1 reported spending on the statements, in ms: a database runs
    /// one query at a time, so this bounds what one database can carry.
    pub d1_duration_ms: f64,
    pub r2_puts: u64,
    pub r2_gets: u64,
    pub r2_deletes: u64,
    pub r2_lists: u64,
    /// `send`/`sendBatch` calls on the delivery queue.
    pub queue_sends: u64,
    /// Messages those calls carried.
    pub queue_messages: u64,
}

/// One D1 call's figures, as D1 reported them per statement.
#[derive(Debug, Clone, Copy, Default)]
pub struct D1Call {
    pub statements: u64,
    pub rows_read: u64,
    pub rows_written: u64,
    pub duration_ms: f64,
}

thread_local! {
    static TALLIES: RefCell<[Tally; 4]> = RefCell::new([Tally::default(); 4]);
}

fn add(path: Path, f: impl FnOnce(&mut Tally)) {
    TALLIES.with(|t| f(&mut t.borrow_mut()[path.index()]));
}

/// Records one awaited D1 call.
pub fn d1(path: Path, call: D1Call) {
    add(path, |t| {
        t.d1_round_trips += 1;
        t.d1_statements += call.statements;
        t.d1_rows_read += call.rows_read;
        t.d1_rows_written += call.rows_written;
        t.d1_duration_ms += call.duration_ms;
    });
}

pub fn r2_put(path: Path) {
    add(path, |t| t.r2_puts += 1);
}

pub fn r2_get(path: Path) {
    add(path, |t| t.r2_gets += 1);
}

pub fn r2_list(path: Path) {
    add(path, |t| t.r2_lists += 1);
}

/// `keys` objects deleted in one call.
pub fn r2_delete(path: Path, keys: u64) {
    add(path, |t| t.r2_deletes += keys);
}

pub fn queue_send(path: Path, messages: u64) {
    add(path, |t| {
        t.queue_sends += 1;
        t.queue_messages += messages;
    });
}

/// The isolate's figures so far, per path.
pub fn snapshot() -> Vec<(Path, Tally)> {
    TALLIES.with(|t| {
        let t = t.borrow();
        Path::ALL.iter().map(|p| (*p, t[p.index()])).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(path: Path) -> Tally {
        snapshot().into_iter().find(|(p, _)| *p == path).unwrap().1
    }

    #[test]
    fn each_path_keeps_its_own_figures() {
        let before = (of(Path::Ingest), of(Path::Delivery));
        d1(
            Path::Ingest,
            D1Call {
                statements: 3,
                rows_read: 1,
                rows_written: 9,
                duration_ms: 0.5,
            },
        );
        r2_put(Path::Ingest);
        queue_send(Path::Ingest, 2);
        r2_delete(Path::Delivery, 5);
        let ingest = of(Path::Ingest);
        assert_eq!(ingest.d1_round_trips, before.0.d1_round_trips + 1);
        assert_eq!(ingest.d1_statements, before.0.d1_statements + 3);
        assert_eq!(ingest.d1_rows_written, before.0.d1_rows_written + 9);
        assert_eq!(ingest.r2_puts, before.0.r2_puts + 1);
        assert_eq!(ingest.queue_messages, before.0.queue_messages + 2);
        assert_eq!(of(Path::Delivery).r2_deletes, before.1.r2_deletes + 5);
        assert_eq!(of(Path::Delivery).d1_round_trips, before.1.d1_round_trips);
    }

    #[test]
    fn every_path_is_listed_once_with_its_name() {
        let names: Vec<&str> = snapshot().iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["ingest", "delivery", "sweep", "api"]);
    }
}
