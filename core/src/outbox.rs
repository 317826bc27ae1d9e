//! An outbox shared by the requests an isolate serves at once: what they hand
//! over while a send is under way goes out together in the next one, sent by
//! the request already sending, so N requests at once cost a few sends
//! instead of N.
//!
//! Unlike [`crate::coalesce`], a caller never waits for another's send: in a
//! Worker, a request that waits on work another request does looks hung to
//! the runtime (it has no I/O of its own under way) and is cancelled, and
//! what it would do after the wait would run in the other request's context,
//! where its own I/O objects cannot be used. So the caller that finds no send
//! under way becomes the sender: it sends its own item at once, then
//! whatever gathered meanwhile, round after round, with its own bindings
//! (the items are plain data); every other caller hands its item over and
//! returns. The sender reports each group's outcome itself (`send` logs a
//! failure), so nothing is owed to the callers.
//!
//! Bounds, as a sender is one request's `wait_until`, which the runtime ends
//! 30 s after the answer: a sender starts no round after `budget_ms` of
//! sending (what is left goes with the next caller's send), and a send whose
//! round began more than `stale_after_ms` ago is taken to be gone (its request
//! ended mid-send): the next caller becomes the sender, and the old one, if
//! it ever resumes, stops. Items a sender took into a round that never ends,
//! or left behind at the end of a burst, are lost to this outbox; the callers
//! must have a backstop (the sweeper delivers every event a queue message
//! never reached; the live stream is best effort).
//!
//! Single-threaded by design, as a Worker's isolate is: the state is in
//! `Cell`s.

use std::cell::{Cell, RefCell};
use std::future::Future;

/// The sender at work: which one (a taken-over sender stops), and when its
/// current round began.
#[derive(Clone, Copy)]
struct Sending {
    generation: u64,
    round_began_ms: i64,
}

/// Items waiting for the next send, and the send under way.
pub struct Outbox<I> {
    waiting: RefCell<Vec<I>>,
    sending: Cell<Option<Sending>>,
    generations: Cell<u64>,
    budget_ms: i64,
    stale_after_ms: i64,
}

impl<I> Outbox<I> {
    /// An outbox whose sender starts no round after `budget_ms` of sending,
    /// and whose send is taken to be gone after `stale_after_ms`.
    pub fn new(budget_ms: i64, stale_after_ms: i64) -> Self {
        Outbox {
            waiting: RefCell::new(Vec::new()),
            sending: Cell::new(None),
            generations: Cell::new(0),
            budget_ms,
            stale_after_ms,
        }
    }

    /// Hands `item` over. With a send under way (and not stale) it returns at
    /// once, the item waiting for the next round; otherwise this caller sends
    /// with `send` (a group of items, in the order handed over) until nothing
    /// waits or its budget is spent. `now` reads the clock in milliseconds.
    pub async fn hand_over<F, Fut>(&self, item: I, now: impl Fn() -> i64, send: F)
    where
        F: Fn(Vec<I>) -> Fut,
        Fut: Future<Output = ()>,
    {
        self.waiting.borrow_mut().push(item);
        let began = now();
        if self
            .sending
            .get()
            .is_some_and(|s| began - s.round_began_ms < self.stale_after_ms)
        {
            return;
        }
        let generation = self.generations.get() + 1;
        self.generations.set(generation);
        let _sender = Sender {
            outbox: self,
            generation,
        };
        loop {
            let round_began_ms = now();
            let superseded = self.generations.get() != generation;
            if superseded || round_began_ms - began >= self.budget_ms {
                return;
            }
            let group = std::mem::take(&mut *self.waiting.borrow_mut());
            if group.is_empty() {
                return;
            }
            self.sending.set(Some(Sending {
                generation,
                round_began_ms,
            }));
            send(group).await;
        }
    }
}

/// The caller that is sending; when it stops (done, out of budget, or its
/// future dropped mid-send), the outbox is free for the next caller, unless
/// another sender has taken over since.
struct Sender<'a, I> {
    outbox: &'a Outbox<I>,
    generation: u64,
}

impl<I> Drop for Sender<'_, I> {
    fn drop(&mut self) {
        let current = self.outbox.sending.get();
        if current.is_none_or(|s| s.generation == self.generation) {
            self.outbox.sending.set(None);
        }
    }
}

/// The values of items keyed alike gathered under their key, keys in the order
/// they first appear: a send of items bound for several places (shards, say)
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
    use crate::test_futures::YieldOnce;
    use futures::executor::block_on;
    use futures::future::join_all;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::{Context, Poll};

    /// A send that records each group and who sent it, and moves the clock
    /// on by `step_ms`, after one pending poll.
    #[derive(Default)]
    struct Recorder {
        groups: RefCell<Vec<(u32, Vec<u32>)>>,
        clock: Rc<Cell<i64>>,
        step_ms: i64,
    }

    impl Recorder {
        async fn send(&self, sender: u32, items: Vec<u32>) {
            self.groups.borrow_mut().push((sender, items));
            YieldOnce::default().await;
            self.clock.set(self.clock.get() + self.step_ms);
        }

        fn now(&self) -> impl Fn() -> i64 {
            let clock = self.clock.clone();
            move || clock.get()
        }

        /// `caller` hands `item` over to `outbox`, sending through this recorder.
        fn hand<'a>(
            &'a self,
            outbox: &'a Outbox<u32>,
            item: u32,
            caller: u32,
        ) -> impl Future<Output = ()> + 'a {
            outbox.hand_over(item, self.now(), move |items| self.send(caller, items))
        }
    }

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        let waker = futures::task::noop_waker();
        future.poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn a_lone_item_is_sent_at_once_and_alone() {
        let recorder = Recorder::default();
        let outbox = Outbox::new(1_000, 5_000);
        block_on(recorder.hand(&outbox, 7, 1));
        block_on(recorder.hand(&outbox, 8, 2));
        assert_eq!(*recorder.groups.borrow(), [(1, vec![7]), (2, vec![8])]);
    }

    #[test]
    fn items_handed_over_during_a_send_go_in_the_next_by_the_same_sender() {
        let recorder = Recorder::default();
        let outbox = Outbox::new(1_000, 5_000);
        block_on(join_all((1..=5).map(|i| recorder.hand(&outbox, i, i))));
        assert_eq!(
            *recorder.groups.borrow(),
            [(1, vec![1]), (1, vec![2, 3, 4, 5])]
        );
        assert_eq!(outbox.waiting.borrow().len(), 0);
    }

    #[test]
    fn a_caller_finding_a_send_under_way_returns_at_once() {
        let recorder = Recorder::default();
        let outbox = Outbox::new(1_000, 5_000);
        let mut sender = Box::pin(recorder.hand(&outbox, 1, 1));
        assert!(poll_once(sender.as_mut()).is_pending());
        let mut other = Box::pin(recorder.hand(&outbox, 2, 2));
        assert!(poll_once(other.as_mut()).is_ready(), "it only hands over");
        block_on(sender);
        assert_eq!(*recorder.groups.borrow(), [(1, vec![1]), (1, vec![2])]);
    }

    #[test]
    fn a_sender_out_of_budget_leaves_the_rest_to_the_next_caller() {
        let recorder = Recorder {
            step_ms: 600,
            ..Recorder::default()
        };
        let outbox = Outbox::new(1_000, 5_000);
        let mut sender = Box::pin(recorder.hand(&outbox, 1, 1));
        assert!(poll_once(sender.as_mut()).is_pending());
        block_on(recorder.hand(&outbox, 2, 2));
        assert!(
            poll_once(sender.as_mut()).is_pending(),
            "round two: 600 ms in"
        );
        block_on(recorder.hand(&outbox, 3, 3));
        block_on(sender);
        // 1,200 ms after it began, the first sender starts no third round.
        assert_eq!(*recorder.groups.borrow(), [(1, vec![1]), (1, vec![2])]);
        assert_eq!(outbox.waiting.borrow().len(), 1);
        block_on(recorder.hand(&outbox, 4, 4));
        assert_eq!(recorder.groups.borrow()[2], (4, vec![3, 4]));
        assert_eq!(outbox.waiting.borrow().len(), 0);
    }

    #[test]
    fn a_send_that_never_ends_is_taken_over_once_stale_and_its_sender_stops() {
        let recorder = Recorder::default();
        let outbox = Outbox::new(1_000, 5_000);
        let never = |_: Vec<u32>| futures::future::pending::<()>();
        let mut stuck = Box::pin(outbox.hand_over(1, recorder.now(), never));
        assert!(poll_once(stuck.as_mut()).is_pending());
        block_on(recorder.hand(&outbox, 2, 2));
        assert_eq!(outbox.waiting.borrow().len(), 1, "not stale yet: it waits");
        recorder.clock.set(5_000);
        block_on(recorder.hand(&outbox, 3, 3));
        assert_eq!(*recorder.groups.borrow(), [(3, vec![2, 3])]);
        drop(stuck);
        block_on(recorder.hand(&outbox, 4, 4));
        assert_eq!(recorder.groups.borrow()[1], (4, vec![4]));
    }

    #[test]
    fn a_dropped_sender_frees_the_outbox_and_leaves_the_waiting_items() {
        let recorder = Recorder::default();
        let outbox = Outbox::new(1_000, 5_000);
        {
            let never = |_: Vec<u32>| futures::future::pending::<()>();
            let mut first = Box::pin(outbox.hand_over(1, recorder.now(), never));
            assert!(poll_once(first.as_mut()).is_pending());
            block_on(recorder.hand(&outbox, 2, 2));
        }
        block_on(recorder.hand(&outbox, 3, 3));
        assert_eq!(*recorder.groups.borrow(), [(3, vec![2, 3])]);
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
}
