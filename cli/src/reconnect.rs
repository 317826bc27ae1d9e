//! Calls to the relay that must not give up on a network error or a 5xx:
//! `listen` and `tail` wait (0.5 s doubling to 30 s), say so on stderr, and try
//! again, until the call is answered or Ctrl-C reaches the given level. Any
//! other failure (a bad key, an unknown endpoint) is returned at once.

use crate::backoff::Backoff;
use crate::error::CliError;
use crate::stop::Stop;
use std::future::Future;

/// `Ok(None)` means Ctrl-C reached `give_up_at` first.
pub async fn until_answered<T, F, Fut>(
    backoff: &mut Backoff,
    stop: &Stop,
    give_up_at: u8,
    call: F,
) -> Result<Option<T>, CliError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CliError>>,
{
    until_answered_or_abandoned(backoff, stop, give_up_at, give_up_at, call).await
}

/// Like [`until_answered`], but a call already in flight is only abandoned at
/// `abandon_at` (a higher level): at `retry_until` no new try starts, yet the
/// answer of the current one is still awaited. `listen` uses this for leases:
/// a lease dropped mid-call may still be granted by the relay, and its events
/// would then wait for the lease to expire and come after newer ones.
pub async fn until_answered_or_abandoned<T, F, Fut>(
    backoff: &mut Backoff,
    stop: &Stop,
    retry_until: u8,
    abandon_at: u8,
    mut call: F,
) -> Result<Option<T>, CliError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CliError>>,
{
    let mut failed = false;
    loop {
        if stop.level() >= retry_until {
            return Ok(None);
        }
        let result = tokio::select! {
            result = call() => result,
            _ = stop.reached(abandon_at) => return Ok(None),
        };
        match result {
            Ok(value) => {
                if failed {
                    eprintln!("reconnected to the relay");
                }
                backoff.reset();
                return Ok(Some(value));
            }
            Err(err) if err.is_transient() => {
                failed = true;
                let delay = backoff.next_delay();
                eprintln!("{err}; trying again in {:.1} s", delay.as_secs_f64());
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.reached(retry_until) => return Ok(None),
                }
            }
            Err(err) => return Err(err),
        }
    }
}
