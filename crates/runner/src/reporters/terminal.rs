//! The terminal reporter: a line per case and a summary.
//!
//! Live (stdout is a terminal and `CI` is not `true`): failures and errors are printed as
//! they happen, with a progress bar on stderr once the run has lasted about a second,
//! and colour unless `NO_COLOR` is set. Otherwise (piped, or in CI): plain lines in suite
//! order, whatever order the cases finish in, so that two runs of the same suite print
//! the same lines. Passing cases are printed only when verbose.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal as _, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rolecall_scenario::{Redacted, Secrets, Suite};

use crate::reporter::{CaseFinished, Reporter, RunFinished, RunStarted};
use crate::reporters::spool::{Span, Spool};
use crate::results::{CaseResult, Outcome};

/// How long a run lasts before its progress bar appears.
const BAR_AFTER: Duration = Duration::from_secs(1);

/// The most bytes of lines held in memory while they wait for an earlier case (one slow
/// case, thousands of failures finishing after it); further lines wait in a spool file.
const WAITING_IN_MEMORY: usize = 256 * 1024;

/// A line waiting for its turn: in memory, or in the spool.
#[derive(Debug)]
enum Waiting {
    Text(String),
    Spooled(Span),
}

/// How the terminal reporter prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TerminalOptions {
    /// Print each case as it finishes instead of in suite order.
    pub live: bool,
    /// Colour the outcome of each line.
    pub color: bool,
    /// Show a progress bar on stderr for runs longer than about a second.
    pub progress: bool,
    /// Print passing cases too.
    pub verbose: bool,
}

impl TerminalOptions {
    /// What the process's stdout and stderr, `CI` and `NO_COLOR` call for.
    pub fn detect(verbose: bool) -> Self {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        let live = std::io::stdout().is_terminal() && !ci;
        TerminalOptions {
            live,
            color: live && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            progress: live && std::io::stderr().is_terminal(),
            verbose,
        }
    }
}

/// Prints a line per case (see [`line()`]) and the run's summary to its writer.
pub struct TerminalReporter<W: Write> {
    out: Redacted<W>,
    options: TerminalOptions,
    started: Instant,
    bar: Option<ProgressBar>,
    /// Not live: the selected cases in suite order, the position of the next one to
    /// print, and the lines of cases that finished before it (`None`: nothing to print).
    selected: Vec<usize>,
    next: usize,
    waiting: BTreeMap<usize, Option<Waiting>>,
    /// Bytes of the waiting lines held in memory.
    waiting_bytes: usize,
    spool: Spool,
    /// Cases finished so far.
    done: usize,
}

impl<W: Write> std::fmt::Debug for TerminalReporter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalReporter")
            .field("options", &self.options)
            .field("waiting", &self.waiting.len())
            .finish_non_exhaustive()
    }
}

impl<W: Write> TerminalReporter<W> {
    /// A reporter printing to `out` (stdout, usually).
    pub fn new(out: W, options: TerminalOptions) -> Self {
        TerminalReporter {
            out: Redacted::new(Arc::new(Secrets::default()), out),
            options,
            started: Instant::now(),
            bar: None,
            selected: Vec::new(),
            next: 0,
            waiting: BTreeMap::new(),
            waiting_bytes: 0,
            spool: Spool::default(),
            done: 0,
        }
    }

    fn text(&self, suite: &Suite, result: &CaseResult) -> Option<String> {
        let shown = self.options.verbose || result.outcome != Outcome::Pass;
        shown.then(|| {
            let text = line(suite, result);
            match self.options.color {
                true => colored(&text, result.outcome),
                false => text,
            }
        })
    }

    /// Writes `text`, above the progress bar when there is one. A closed pipe is not an
    /// error of the run (`rolecall run … | head`): what cannot be printed is dropped.
    /// Live lines are flushed at once; piped ones when the run ends, since thousands of
    /// small writes would cost more than the requests.
    fn print(&mut self, text: &str) {
        let out = &mut self.out;
        let live = self.options.live;
        let mut write = || {
            let _ = out.write_all(text.as_bytes());
            if live {
                let _ = out.flush();
            }
        };
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    fn tick(&mut self) {
        if !self.options.progress {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() >= BAR_AFTER {
            let bar = ProgressBar::with_draw_target(
                Some(self.selected.len() as u64),
                ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} cases {msg}") {
                bar.set_style(style);
            }
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.done as u64);
        }
    }

    /// Not live: holds the line of case `index` (in memory while the waiting lines are
    /// few, else in the spool, redacted) until the cases before it are printed.
    fn wait(&mut self, index: usize, text: Option<String>, secrets: &Secrets) -> io::Result<()> {
        let held = match text {
            Some(text) if self.waiting_bytes + text.len() > WAITING_IN_MEMORY => {
                let text = secrets.redact(&text);
                Some(Waiting::Spooled(self.spool.push(text.as_bytes())?))
            }
            Some(text) => {
                self.waiting_bytes += text.len();
                Some(Waiting::Text(text))
            }
            None => None,
        };
        self.waiting.insert(index, held);
        Ok(())
    }

    /// Prints a waiting line.
    fn print_waiting(&mut self, held: Waiting) -> io::Result<()> {
        let text = match held {
            Waiting::Text(text) => {
                self.waiting_bytes -= text.len();
                text
            }
            Waiting::Spooled(span) => {
                self.spool.flush()?;
                self.spool.read_string(span)?
            }
        };
        self.print(&text);
        Ok(())
    }

    /// Not live: prints the waiting lines that come next in suite order.
    fn print_in_order(&mut self) -> io::Result<()> {
        while let Some(&index) = self.selected.get(self.next) {
            let Some(held) = self.waiting.remove(&index) else {
                break;
            };
            self.next += 1;
            if let Some(held) = held {
                self.print_waiting(held)?;
            }
        }
        Ok(())
    }
}

impl<W: Write> Reporter for TerminalReporter<W> {
    fn run_started(&mut self, event: &RunStarted<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        self.started = Instant::now();
        self.selected = event.selected.to_vec();
        Ok(())
    }

    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        self.done += 1;
        let text = self.text(event.suite, event.result);
        if self.options.live {
            if let Some(text) = text {
                self.print(&text);
            }
        } else {
            self.wait(event.result.index, text, event.secrets)?;
            self.print_in_order()?;
        }
        self.tick();
        Ok(())
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        // A run cut short never delivers some cases: print what arrived, in order.
        for held in std::mem::take(&mut self.waiting).into_values().flatten() {
            self.print_waiting(held)?;
        }
        let s = event.summary;
        let summary = format!(
            "\n{} passed, {} failed, {} skipped, {} errors; {} of {} cases in {:.2}s (target `{}`, {})\n",
            s.pass,
            s.fail,
            s.skipped,
            s.error,
            s.total(),
            event.suite.cases.len(),
            event.elapsed.as_secs_f64(),
            event.suite.target.name,
            event.base_url,
        );
        self.print(&summary);
        let _ = self.out.flush();
        Ok(())
    }
}

/// The line `rolecall run` prints for a case; failures and errors add their explanation,
/// indented. Print it through [`Redacted`].
pub fn line(suite: &Suite, result: &CaseResult) -> String {
    let case = &suite.cases[result.index];
    let label = match result.outcome {
        Outcome::Pass => "PASS ",
        Outcome::Fail => "FAIL ",
        Outcome::Skipped => "SKIP ",
        Outcome::Error => "ERROR",
    };
    let observed = match (&result.observed, &result.attribution) {
        (Some(o), Some(a)) => format!(
            " {} (expected {}) {}/{}",
            o.status, case.expect.status, a.layer, a.vendor
        ),
        _ => String::new(),
    };
    let mut out = format!("{label} {}{observed}\n", case.name);
    if result.outcome != Outcome::Pass
        && let Some(message) = &result.message
    {
        for l in message.lines() {
            out.push_str("      ");
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// `text` with its label (the first five characters) in the outcome's colour.
fn colored(text: &str, outcome: Outcome) -> String {
    let color = match outcome {
        Outcome::Pass => "32",
        Outcome::Fail | Outcome::Error => "1;31",
        Outcome::Skipped => "33",
    };
    match text.get(..5) {
        Some(label) => format!("\x1b[{color}m{label}\x1b[0m{}", &text[5..]),
        None => text.to_owned(),
    }
}
