//! Ctrl-C for the long-running commands. The first press asks to stop
//! (`STOPPING`: lease nothing more, finish what is in hand); a second one asks to
//! stop now (`NOW`). Each wait in those commands is raced against the level at
//! which it should give up.

use tokio::sync::watch;

pub const STOPPING: u8 = 1;
pub const NOW: u8 = 2;

#[derive(Clone)]
pub struct Stop(watch::Receiver<u8>);

impl Stop {
    /// Starts listening for Ctrl-C; `first_notice` is printed at the first press.
    pub fn on_ctrl_c(first_notice: Option<&'static str>) -> Stop {
        let (tx, rx) = watch::channel(0u8);
        tokio::spawn(async move {
            for level in [STOPPING, NOW] {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                if level == STOPPING {
                    if let Some(notice) = first_notice {
                        eprintln!("{notice}");
                    }
                }
                if tx.send(level).is_err() {
                    return;
                }
            }
        });
        Stop(rx)
    }

    pub fn level(&self) -> u8 {
        *self.0.borrow()
    }

    /// Resolves once the level is at least `level`; never, if Ctrl-C can no
    /// longer be received.
    pub async fn reached(&self, level: u8) {
        let mut rx = self.0.clone();
        if rx.wait_for(|l| *l >= level).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
