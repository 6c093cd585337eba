//! Ctrl-C for the client tools: the first SIGINT or SIGTERM asks the tool to finish (a
//! producer sends what it holds, a consumer commits and leaves its group, each within a
//! bound); a second one exits the process at once, whatever the tool is waiting for. Once
//! tokio handles a signal its default action (exit) is gone for the life of the process,
//! so without this a tool that stopped listening would ignore every later Ctrl-C.
//!
//! Must not: decide what "finishing" means; each tool waits on [`Interrupt::received`].

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// The first stop signal, once it came.
#[derive(Debug, Clone)]
pub struct Interrupt {
    signal: watch::Receiver<Option<i32>>,
}

impl Interrupt {
    /// Starts listening (inside a tokio runtime). `tool` names the program in the messages;
    /// `finishing` says what it does on the first signal (printed then).
    pub fn install(tool: &'static str, finishing: String) -> std::io::Result<Interrupt> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                let number = tokio::select! {
                    _ = int.recv() => libc::SIGINT,
                    _ = term.recv() => libc::SIGTERM,
                };
                seen += 1;
                if seen == 1 {
                    eprintln!("kfk {tool}: {finishing} (interrupt again to exit at once)");
                    tx.send_replace(Some(number));
                } else {
                    eprintln!("kfk {tool}: exiting at once");
                    std::process::exit(128 + number);
                }
            }
        });
        Ok(Interrupt { signal: rx })
    }

    /// Whether the first signal has come.
    pub fn is_set(&self) -> bool {
        self.signal.borrow().is_some()
    }

    /// Resolves once the first signal has come (at once if it has).
    pub async fn received(&mut self) {
        let _ = self.signal.wait_for(Option::is_some).await;
    }
}
