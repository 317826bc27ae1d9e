//! Futures for the unit tests of the modules that drive other futures
//! (`coalesce`, `outbox`): what an I/O call looks like to them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future that is pending once, as an I/O call is, then ready.
#[derive(Default)]
pub(crate) struct YieldOnce(bool);

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
