//! Coalescing: work handed over while a flush is under way is done together
//! in the next flush, instead of one round trip each.
//!
//! The first caller flushes at once, with its own item alone; whoever hands
//! an item over while that flush runs waits for it, and the flushing caller
//! then flushes everything that gathered, and so on until nothing waits. So no
//! item waits for a timer, or for more than the one flush already under way,
//! and a lone item costs what it did alone. Delivery uses it for a queue
//! batch's outcomes (one D1 batch for those that finish together) and for what
//! it tells the live hub.
//!
//! Single-threaded by design, as a Worker's isolate is: the state is in
//! `Cell`s, and the flushing caller's future does the work for all.

use futures_channel::oneshot;
use std::cell::{Cell, RefCell};
use std::future::Future;

/// Items waiting for the next flush, each with where its outcome goes, and
/// whether a flush is under way.
pub struct Coalesce<I, O> {
    waiting: RefCell<Vec<(I, oneshot::Sender<O>)>>,
    flushing: Cell<bool>,
}

impl<I, O> Default for Coalesce<I, O> {
    fn default() -> Self {
        Coalesce {
            waiting: RefCell::new(Vec::new()),
            flushing: Cell::new(false),
        }
    }
}

impl<I, O> Coalesce<I, O> {
    /// Hands `item` over and returns its outcome. `flush` takes a group of
    /// items, in the order they were handed over, and returns one outcome per
    /// item, in the same order. `None` when the flush that took the item was
    /// abandoned (its caller's future dropped) or gave no outcome for it.
    pub async fn submit<F, Fut>(&self, item: I, flush: F) -> Option<O>
    where
        F: Fn(Vec<I>) -> Fut,
        Fut: Future<Output = Vec<O>>,
    {
        let (done, outcome) = oneshot::channel();
        self.waiting.borrow_mut().push((item, done));
        if !self.flushing.replace(true) {
            let _flusher = Flusher(self);
            loop {
                let group = std::mem::take(&mut *self.waiting.borrow_mut());
                if group.is_empty() {
                    break;
                }
                let (items, senders): (Vec<I>, Vec<oneshot::Sender<O>>) = group.into_iter().unzip();
                let outcomes = flush(items).await;
                for (sender, outcome) in senders.into_iter().zip(outcomes) {
                    // A caller that is gone needs no outcome.
                    sender.send(outcome).ok();
                }
            }
        }
        outcome.await.ok()
    }
}

/// The caller that is flushing; when it stops (done, or dropped mid-flush),
/// the group is free again, and the items still waiting are given up (their
/// callers get `None`) rather than left waiting for a flusher that is gone.
struct Flusher<'a, I, O>(&'a Coalesce<I, O>);

impl<I, O> Drop for Flusher<'_, I, O> {
    fn drop(&mut self) {
        self.0.flushing.set(false);
        self.0.waiting.borrow_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_futures::YieldOnce;
    use futures::executor::block_on;
    use futures::future::join_all;
    use std::task::Context;

    /// A flush that records each group it got and answers each item doubled,
    /// after one pending poll.
    #[derive(Default)]
    struct Recorder {
        groups: RefCell<Vec<Vec<u32>>>,
    }

    impl Recorder {
        async fn flush(&self, items: Vec<u32>) -> Vec<u32> {
            self.groups.borrow_mut().push(items.clone());
            YieldOnce::default().await;
            items.iter().map(|i| i * 2).collect()
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
