//! A progress line on a terminal (relocate, push, pull), redrawn five times a second on stderr;
//! nothing when stderr is not a terminal.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(crate) struct Bar {
    state: Option<Arc<Mutex<State>>>,
}

#[derive(Debug, Default)]
struct State {
    drawn: bool,
    done: bool,
}

impl Bar {
    pub(crate) fn new(enabled: bool) -> Self {
        Bar {
            state: enabled.then(|| Arc::new(Mutex::new(State::default()))),
        }
    }

    /// Start redrawing the line `render` gives for the time elapsed.
    pub(crate) fn start(&self, render: impl Fn(Duration) -> String + Send + 'static) {
        let Some(state) = self.state.clone() else {
            return;
        };
        let started = Instant::now();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(200));
                let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                if state.done {
                    return;
                }
                let line = render(started.elapsed());
                let _ = write!(std::io::stderr().lock(), "\r\x1b[2K{line}");
                state.drawn = true;
            }
        });
    }

    /// Print a message where the bar was (it is redrawn at the next tick).
    pub(crate) fn message(&self, print: impl FnOnce()) {
        let guard = self
            .state
            .as_ref()
            .map(|state| state.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(mut state) = guard {
            if state.drawn {
                let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
                state.drawn = false;
            }
            print();
        } else {
            print();
        }
    }

    pub(crate) fn finish(&self) {
        self.message(|| {});
        if let Some(state) = &self.state {
            state.lock().unwrap_or_else(|p| p.into_inner()).done = true;
        }
    }
}

/// `n` bytes in binary units, one decimal.
pub(crate) fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
