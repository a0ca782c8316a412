//! GitHub Actions workflow commands: one `::error` annotation per case that failed or
//! got no response, at the scenario line that set its expectation.

use std::io::{self, Write};

use rolecall_scenario::{Redacted, Secrets};

use crate::reporter::{CaseFinished, Reporter, RunFinished, RunStarted};
use crate::reporters::finding::{Kind, location};

/// Writes `::error file=…,line=…,col=…,title=…::…` lines (meant for stdout), one per
/// failing or erroring case, as each case finishes: it keeps nothing.
///
/// Property values and the message are escaped as the Actions toolkit does (`%`, `\r`,
/// `\n`, and in properties also `:` and `,`), after redaction, so a message keeps its
/// lines and no value can end a property or the command early.
#[derive(Debug)]
pub struct GithubReporter<W: Write> {
    out: Redacted<W>,
}

impl<W: Write> GithubReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        GithubReporter {
            out: Redacted::new(Secrets::default(), out),
        }
    }

    /// The writer.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner()
    }
}

impl<W: Write> Reporter for GithubReporter<W> {
    fn run_started(&mut self, event: &RunStarted<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        Ok(())
    }

    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        let Some(kind) = Kind::of(event.suite, event.result) else {
            return Ok(());
        };
        let suite = event.suite;
        let case = &suite.cases[event.result.index];
        // At the key that set the first failing expectation, when the verdict names it.
        let at = event
            .result
            .mismatches()
            .first()
            .map_or_else(|| location(suite, case), |m| &m.location);
        let secrets = event.secrets;
        let title = secrets.redact(&format!("{}: {}", kind.title(), case.name));
        let message = secrets.redact(event.result.message.as_deref().unwrap_or("").trim_end());
        let line = format!(
            "::error file={},line={},col={},title={}::{}\n",
            property(&secrets.redact(&at.path.to_string_lossy())),
            at.line,
            at.column,
            property(&title),
            data(&message),
        );
        self.out.write_all(line.as_bytes())
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        self.out.flush()
    }
}

/// A command's message, escaped as `@actions/core` does: `%`, `\r`, `\n`.
pub(crate) fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A command's property value: [`data`] plus `:` and `,`.
pub(crate) fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_properties_are_escaped_as_the_actions_toolkit_does() {
        let text = "50% a:b, c\r\nd%0A";
        assert_eq!(data(text), "50%25 a:b, c%0D%0Ad%250A");
        assert_eq!(property(text), "50%25 a%3Ab%2C c%0D%0Ad%250A");
    }
}
