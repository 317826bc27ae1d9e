//! Coalescing: work handed over while a flush is under way is done together
//! in the next flush, instead of one round trip each.
//!
//! The first caller flushes at once, with its own item alone; whoever hands
//! an item over while that flush runs waits for it, and the flushing caller
//! then flushes everything that gathered, and so on until nothing waits. So no
//! item waits for a timer, or for more than the one flush already under way,
//! and a lone item costs what it did alone. Delivery uses it for a queue
//! batch's outcomes (one D1 batch for those that finish together); the
//! isolate's outbox for the ack path's delivery messages and for what acks
//! and deliveries tell the live hubs.
//!
//! A flusher serves a bounded number of flushes ([`Coalesce::with_max_rounds`]):
//! with items still waiting after its last, it hands the turn to the first
//! caller still waiting, which flushes next. An isolate-wide group (the ack
//! path's, shared by every request of an isolate) needs that bound: a flusher
//! is one request's `wait_until`, which the runtime ends 30 s after the answer,
//! so under steady load one request must not flush for all the others for ever.
//!
//! Single-threaded by design, as a Worker's isolate is: the state is in
//! `Cell`s, and the flushing caller's future does the work for all.

use futures_channel::oneshot;
use std::cell::{Cell, RefCell};
use std::future::Future;

/// What a waiting caller is told: its item's outcome, or that the flusher
/// stopped with items waiting and it is its turn to flush (its item is still
/// waiting, now answered through the receiver it is given).
enum Turn<O> {
    Done(O),
    Flush(oneshot::Receiver<Turn<O>>),
}

/// An item waiting for a flush, with where its turn goes.
type Waiting<I, O> = (I, oneshot::Sender<Turn<O>>);

/// Items waiting for the next flush, each with where its outcome goes, and
/// whether a flush is under way.
pub struct Coalesce<I, O> {
    waiting: RefCell<Vec<Waiting<I, O>>>,
    flushing: Cell<bool>,
    /// How many flushes one flusher does before it hands over.
    max_rounds: usize,
}

impl<I, O> Default for Coalesce<I, O> {
    /// A group whose flusher flushes until nothing waits: right for work
    /// within one invocation, which ends with it.
    fn default() -> Self {
        Self::with_max_rounds(usize::MAX)
    }
}

impl<I, O> Coalesce<I, O> {
    /// A group whose flusher does at most `max_rounds` flushes (at least one)
    /// before it hands the turn to a waiting caller.
    pub fn with_max_rounds(max_rounds: usize) -> Self {
        Coalesce {
            waiting: RefCell::new(Vec::new()),
            flushing: Cell::new(false),
            max_rounds: max_rounds.max(1),
        }
    }

    /// Hands `item` over and returns its outcome. `flush` takes a group of
    /// items, in the order they were handed over, and returns one outcome per
    /// item, in the same order. `None` when the flush that took the item was
    /// abandoned (its caller's future dropped) or gave no outcome for it.
    pub async fn submit<F, Fut>(&self, item: I, flush: F) -> Option<O>
    where
        F: Fn(Vec<I>) -> Fut,
        Fut: Future<Output = Vec<O>>,
    {
        let (done, mut outcome) = oneshot::channel();
        self.waiting.borrow_mut().push((item, done));
        loop {
            if !self.flushing.replace(true) {
                self.flush_rounds(&flush).await;
            }
            match outcome.await {
                Ok(Turn::Done(result)) => return Some(result),
                Ok(Turn::Flush(next)) => outcome = next,
                Err(_) => return None,
            }
        }
    }

    /// Flushes what waits, round after round, until nothing does or the
    /// rounds are used up; then the group is free again (see [`Flusher`]).
    async fn flush_rounds<F, Fut>(&self, flush: &F)
    where
        F: Fn(Vec<I>) -> Fut,
        Fut: Future<Output = Vec<O>>,
    {
        let _flusher = Flusher(self);
        for _ in 0..self.max_rounds {
            let group = std::mem::take(&mut *self.waiting.borrow_mut());
            if group.is_empty() {
                return;
            }
            let (items, senders): (Vec<I>, Vec<_>) = group.into_iter().unzip();
            let outcomes = flush(items).await;
            for (sender, outcome) in senders.into_iter().zip(outcomes) {
                // A caller that is gone needs no outcome.
                sender.send(Turn::Done(outcome)).ok();
            }
        }
    }

    /// Gives the turn to flush to the first waiting caller still there (its
    /// item stays waiting, answered through a new channel); with none left,
    /// the waiting items are given up (their callers are gone).
    fn hand_over(&self) {
        let mut waiting = self.waiting.borrow_mut();
        while !waiting.is_empty() {
            let (item, sender) = waiting.remove(0);
            if sender.is_canceled() {
                continue;
            }
            let (next, receiver) = oneshot::channel();
            waiting.insert(0, (item, next));
            match sender.send(Turn::Flush(receiver)) {
                Ok(()) => return,
                Err(_) => {
                    waiting.remove(0);
                }
            }
        }
    }
}

/// The caller that is flushing; when it stops (done, out of rounds, or
/// dropped mid-flush), the group is free again, and the items still waiting
/// go to the first of their callers still there ([`Coalesce::hand_over`]),
/// or are given up (their callers get `None`) rather than left waiting for
/// a flusher that is gone.
struct Flusher<'a, I, O>(&'a Coalesce<I, O>);

impl<I, O> Drop for Flusher<'_, I, O> {
    fn drop(&mut self) {
        self.0.flushing.set(false);
        self.0.hand_over();
    }
}

/// The values of items keyed alike gathered under their key, keys in the order
/// they first appear: a flush of items bound for several places (shards, say)
/// does one piece of work per place.
pub fn gather<K: PartialEq + Clone, T: Clone>(items: &[(K, Vec<T>)]) -> Vec<(K, Vec<T>)> {
    let mut gathered: Vec<(K, Vec<T>)> = Vec::new();
    for (key, values) in items {
        match gathered.iter_mut().find(|(k, _)| k == key) {
            Some((_, under)) => under.extend_from_slice(values),
            None => gathered.push((key.clone(), values.clone())),
        }
    }
    gathered
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::future::join_all;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A future that is pending once, as an I/O call is, then ready.
    #[derive(Default)]
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    /// A flush that records each group it got and answers each item doubled,
    /// after one pending poll.
    #[derive(Default)]
    struct Recorder {
        groups: RefCell<Vec<Vec<u32>>>,
        /// Which caller flushed each group (for [`Recorder::flush_by`]).
        flushers: RefCell<Vec<u32>>,
    }

    impl Recorder {
        async fn flush(&self, items: Vec<u32>) -> Vec<u32> {
            self.groups.borrow_mut().push(items.clone());
            YieldOnce::default().await;
            items.iter().map(|i| i * 2).collect()
        }

        /// As `flush`, by caller `flusher`, over three pending polls.
        async fn flush_by(&self, flusher: u32, items: Vec<u32>) -> Vec<u32> {
            self.flushers.borrow_mut().push(flusher);
            YieldOnce::default().await;
            YieldOnce::default().await;
            self.flush(items).await
        }
    }

    #[test]
    fn items_handed_over_during_a_flush_go_together_in_the_next() {
        let recorder = Recorder::default();
        let coalesce: Coalesce<u32, u32> = Coalesce::default();
        // Five callers at once: the first flushes alone, the four that came
        // while it ran go together, each with its own outcome.
        let outcomes = block_on(join_all(
            (1..=5).map(|i| coalesce.submit(i, |items| recorder.flush(items))),
        ));
        assert_eq!(outcomes, [Some(2), Some(4), Some(6), Some(8), Some(10)]);
        assert_eq!(*recorder.groups.borrow(), [vec![1], vec![2, 3, 4, 5]]);
    }

    #[test]
    fn gather_puts_values_under_their_key_in_first_seen_order() {
        let items = [
            ("b", vec![1]),
            ("a", vec![2, 3]),
            ("b", vec![4]),
            ("c", vec![]),
        ];
        assert_eq!(
            gather(&items),
            [("b", vec![1, 4]), ("a", vec![2, 3]), ("c", vec![])]
        );
    }

    #[test]
    fn a_lone_item_is_flushed_at_once_and_alone() {
        let recorder = Recorder::default();
        let coalesce: Coalesce<u32, u32> = Coalesce::default();
        assert_eq!(
            block_on(coalesce.submit(7, |items| recorder.flush(items))),
            Some(14)
        );
        assert_eq!(
            block_on(coalesce.submit(8, |items| recorder.flush(items))),
            Some(16)
        );
        assert_eq!(*recorder.groups.borrow(), [vec![7], vec![8]]);
    }

    #[test]
    fn an_item_without_an_outcome_gets_none() {
        let coalesce: Coalesce<u32, u32> = Coalesce::default();
        let outcomes = block_on(join_all(
            (1..=3).map(|i| coalesce.submit(i, |_| async { Vec::new() })),
        ));
        assert_eq!(outcomes, [None, None, None]);
    }

    /// A caller that yields `item` times before it hands `item` over, so
    /// callers joined together arrive while earlier flushes run.
    async fn later(coalesce: &Coalesce<u32, u32>, recorder: &Recorder, item: u32) -> Option<u32> {
        for _ in 0..item {
            YieldOnce::default().await;
        }
        coalesce
            .submit(item, |items| recorder.flush_by(item, items))
            .await
    }

    #[test]
    fn a_flusher_hands_over_after_its_rounds_and_every_item_is_flushed_once() {
        let recorder = Recorder::default();
        let coalesce: Coalesce<u32, u32> = Coalesce::with_max_rounds(2);
        let outcomes = block_on(join_all((0..12).map(|i| later(&coalesce, &recorder, i))));
        assert_eq!(outcomes, (0..12).map(|i| Some(i * 2)).collect::<Vec<_>>());
        let mut flushed: Vec<u32> = recorder.groups.borrow().concat();
        flushed.sort_unstable();
        assert_eq!(flushed, (0..12).collect::<Vec<_>>());
        let flushers = recorder.flushers.borrow();
        assert!(flushers.len() > 2, "one flusher did it all: {flushers:?}");
        for flusher in flushers.iter() {
            let rounds = flushers.iter().filter(|f| *f == flusher).count();
            assert!(
                rounds <= 2,
                "{flusher} flushed {rounds} times: {flushers:?}"
            );
        }
    }

    #[test]
    fn a_dropped_flusher_gives_up_the_waiting_items_and_frees_the_group() {
        let coalesce: Coalesce<u32, u32> = Coalesce::default();
        let never = |_: Vec<u32>| futures::future::pending::<Vec<u32>>();
        {
            // The flusher starts a flush that never ends, a second item waits
            // behind it; then both futures are dropped.
            let mut first = Box::pin(coalesce.submit(1, never));
            let mut second = Box::pin(coalesce.submit(2, never));
            let waker = futures::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            assert!(first.as_mut().poll(&mut cx).is_pending());
            assert!(second.as_mut().poll(&mut cx).is_pending());
        }
        assert!(coalesce.waiting.borrow().is_empty());
        let recorder = Recorder::default();
        assert_eq!(
            block_on(coalesce.submit(3, |items| recorder.flush(items))),
            Some(6)
        );
    }
}
