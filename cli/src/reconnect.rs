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
    mut call: F,
) -> Result<Option<T>, CliError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CliError>>,
{
    let mut failed = false;
    loop {
        let result = tokio::select! {
            result = call() => result,
            _ = stop.reached(give_up_at) => return Ok(None),
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
                    _ = stop.reached(give_up_at) => return Ok(None),
                }
            }
            Err(err) => return Err(err),
        }
    }
}
