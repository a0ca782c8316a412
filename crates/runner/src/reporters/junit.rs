//! The JUnit XML report: one `<testsuite>` per route file, one `<testcase>` per case, in
//! the Apache Ant dialect that Jenkins, GitLab and most CI servers read (valid against
//! the published `JUnit.xsd`, see `tests/schemas/`).

use std::io::{self, Write};
use std::sync::Arc;
use std::time::SystemTime;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use rolecall_scenario::{Redacted, Secrets, Suite};

use crate::reporter::{CaseFinished, Reporter, RunFinished, RunStarted};
use crate::reporters::finding::{Kind, headline, identity_part};
use crate::reporters::spool::{Cursor, Span, Spool};
use crate::results::Outcome;

/// Writes a JUnit XML report.
///
/// A `<testsuite>` states its counts in its opening tag, so nothing can be written before
/// the last case of a run is known: the reporter keeps one small record per case (index,
/// outcome, time, kind) in memory, writes each case's `<testcase>` as it finishes, seals
/// it (redacts it again as a whole) and spools it to a temporary file, with the redacted
/// explanation of each case that did not pass, and writes the whole file at
/// [`run_finished`](Reporter::run_finished), copying the `<testcase>`s back one at a
/// time through [`Redacted::write_sealed`] (which searches only their ends again). A
/// `<testcase>` sealed before the run learned a secret is written again from its record.
///
/// The schema requires a `hostname` on each `<testsuite>`: it is the target's name
/// (`local`, `staging`), never the machine's.
///
/// Texts are redacted before they are escaped, and every byte then goes through
/// [`Redacted`]. Characters XML 1.0 cannot carry (most control characters) are replaced
/// with U+FFFD, so a hostile body still yields a well-formed file.
#[derive(Debug)]
pub struct JunitReporter<W: Write> {
    out: Redacted<W>,
    records: Vec<Record>,
    spool: Spool,
    timestamp: String,
    /// Writes one `<testcase>` at the depth it has in the report (inside `<testsuites>`
    /// and a `<testsuite>`), for the spool.
    testcase: TestcaseWriter,
    /// Each set of secrets a `<testcase>` was sealed with, in the order first used.
    sealed_with: Vec<Arc<Secrets>>,
}

#[derive(Debug)]
struct Record {
    index: usize,
    outcome: Outcome,
    seconds: f64,
    /// Where the explanation of a failure or error, or the reason of a skip, lies in the
    /// spool.
    message: Option<Span>,
    kind: Option<Kind>,
    /// Where its `<testcase>` lies in the spool, and which of `sealed_with` sealed it.
    testcase: Span,
    sealed: u32,
}

impl<W: Write> JunitReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        JunitReporter {
            out: Redacted::new(Secrets::default(), out),
            records: Vec::new(),
            spool: Spool::default(),
            timestamp: timestamp(SystemTime::now()),
            testcase: TestcaseWriter::new(),
            sealed_with: Vec::new(),
        }
    }

    /// The writer, once the report is written.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner()
    }
}

impl<W: Write> Reporter for JunitReporter<W> {
    fn run_started(&mut self, event: &RunStarted<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        self.timestamp = timestamp(SystemTime::now());
        self.records.reserve(event.selected.len());
        Ok(())
    }

    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        let result = event.result;
        let message = match result.outcome {
            Outcome::Pass => None,
            _ => result
                .message
                .as_deref()
                .map(|m| event.secrets.redact(m.trim_end())),
        };
        let mut record = Record {
            index: result.index,
            outcome: result.outcome,
            seconds: result
                .observed
                .as_ref()
                .map_or(0.0, |o| o.elapsed.as_secs_f64()),
            message: message
                .as_deref()
                .map(|m| self.spool.push(m.as_bytes()))
                .transpose()?,
            kind: Kind::of(event.suite, result),
            testcase: Span::default(),
            sealed: 0,
        };
        let xml = &mut self.testcase.0;
        xml.get_mut().clear();
        write_testcase(
            xml,
            event.suite,
            event.secrets,
            &record,
            message.as_deref().unwrap_or(""),
        )?;
        let sealed = event
            .secrets
            .redact(&String::from_utf8_lossy(xml.get_ref()));
        record.testcase = self.spool.push(sealed.as_bytes())?;
        if !self
            .sealed_with
            .last()
            .is_some_and(|last| Arc::ptr_eq(last, event.secrets))
        {
            self.sealed_with.push(event.secrets.clone());
        }
        record.sealed = u32::try_from(self.sealed_with.len() - 1).unwrap_or(u32::MAX);
        self.records.push(record);
        Ok(())
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        self.records.sort_unstable_by_key(|r| r.index);
        self.spool.flush()?;
        let suite = event.suite;
        let records = std::mem::take(&mut self.records);
        let hostname = if suite.target.name.trim().is_empty() {
            "rolecall"
        } else {
            suite.target.name.as_str()
        };
        let secrets = event.secrets.clone();
        // Which sets sealed `<testcase>`s that need no second pass now: those are copied
        // as sealed with every secret of the run.
        let fresh: Vec<bool> = self
            .sealed_with
            .iter()
            .map(|set| set.redacted_all_of(&secrets))
            .collect();
        let mut xml = Writer::new_with_indent(&mut self.out, b' ', 2);
        xml.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        xml.write_event(Event::Start(BytesStart::new("testsuites")))?;
        for (id, file) in records
            .chunk_by(|a, b| same_file(suite, a.index, b.index))
            .enumerate()
        {
            let route_file = &suite.route(&suite.cases[file[0].index]).file_name;
            write_suite(
                &mut xml,
                suite,
                &secrets,
                &self.spool,
                &fresh,
                file,
                id,
                route_file,
                hostname,
                &self.timestamp,
            )?;
        }
        xml.write_event(Event::End(BytesEnd::new("testsuites")))?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

fn same_file(suite: &Suite, a: usize, b: usize) -> bool {
    suite.route(&suite.cases[a]).file_name == suite.route(&suite.cases[b]).file_name
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, every value a different attribute"
)]
fn write_suite<W: Write>(
    xml: &mut Writer<&mut Redacted<W>>,
    suite: &Suite,
    secrets: &Arc<Secrets>,
    spool: &Spool,
    fresh: &[bool],
    records: &[Record],
    id: usize,
    route_file: &str,
    hostname: &str,
    timestamp: &str,
) -> io::Result<()> {
    let count = |outcome| records.iter().filter(|r| r.outcome == outcome).count();
    let seconds: f64 = records.iter().map(|r| r.seconds).sum();
    let name = xml_text(&secrets.redact(route_file));
    let start = BytesStart::new("testsuite").with_attributes([
        ("name", name.as_str()),
        ("package", name.as_str()),
        ("id", id.to_string().as_str()),
        ("hostname", xml_text(&secrets.redact(hostname)).as_str()),
        ("timestamp", timestamp),
        ("tests", records.len().to_string().as_str()),
        ("failures", count(Outcome::Fail).to_string().as_str()),
        ("errors", count(Outcome::Error).to_string().as_str()),
        ("skipped", count(Outcome::Skipped).to_string().as_str()),
        ("time", format!("{seconds:.3}").as_str()),
    ]);
    xml.write_event(Event::Start(start))?;
    xml.write_event(Event::Empty(BytesStart::new("properties")))?;
    let mut cursor = Cursor::new(spool);
    for record in records {
        if fresh.get(record.sealed as usize) == Some(&true) {
            let text =
                std::str::from_utf8(cursor.read(record.testcase)?).map_err(io::Error::other)?;
            xml.get_mut().write_sealed(text, secrets)?;
            continue;
        }
        let message = match record.message {
            Some(span) => spool.read_string(span)?,
            None => String::new(),
        };
        write_testcase(xml, suite, secrets, record, &message)?;
    }
    xml.write_event(Event::Empty(BytesStart::new("system-out")))?;
    xml.write_event(Event::Empty(BytesStart::new("system-err")))?;
    xml.write_event(Event::End(BytesEnd::new("testsuite")))
}

/// A writer for one `<testcase>` at a time, indented as inside `<testsuites>` and a
/// `<testsuite>`.
struct TestcaseWriter(Writer<Vec<u8>>);

impl TestcaseWriter {
    fn new() -> Self {
        let mut xml = Writer::new_with_indent(Vec::new(), b' ', 2);
        for parent in ["testsuites", "testsuite"] {
            // Writing to a `Vec` does not fail.
            let _ = xml.write_event(Event::Start(BytesStart::new(parent)));
        }
        xml.get_mut().clear();
        TestcaseWriter(xml)
    }
}

impl std::fmt::Debug for TestcaseWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestcaseWriter")
    }
}

/// One `<testcase>`, its texts redacted with `secrets` (`message` already is).
fn write_testcase<W: Write>(
    xml: &mut Writer<W>,
    suite: &Suite,
    secrets: &Secrets,
    record: &Record,
    message: &str,
) -> io::Result<()> {
    let case = &suite.cases[record.index];
    let route = suite.route(case);
    let classname = xml_text(&secrets.redact(&format!("{}::{}", route.file_name, route.name)));
    let name = xml_text(&secrets.redact(identity_part(suite, case)));
    let time = format!("{:.3}", record.seconds);
    let testcase = BytesStart::new("testcase").with_attributes([
        ("name", name.as_str()),
        ("classname", classname.as_str()),
        ("time", time.as_str()),
    ]);
    let child = match record.outcome {
        Outcome::Pass => None,
        Outcome::Fail => Some("failure"),
        Outcome::Error => Some("error"),
        Outcome::Skipped => Some("skipped"),
    };
    let Some(child) = child else {
        return xml.write_event(Event::Empty(testcase));
    };
    xml.write_event(Event::Start(testcase))?;
    let text = xml_text(message);
    let mut element = BytesStart::new(child);
    element.push_attribute(("message", headline(&text).as_str()));
    if child != "skipped" {
        let kind = record.kind.unwrap_or(Kind::NoResponse);
        element.push_attribute(("type", kind.id()));
    }
    xml.write_event(Event::Start(element))?;
    xml.write_event(Event::Text(BytesText::new(&text)))?;
    xml.write_event(Event::End(BytesEnd::new(child)))?;
    xml.write_event(Event::End(BytesEnd::new("testcase")))
}

/// `text` with every character XML 1.0 forbids replaced by U+FFFD: C0 controls but tab,
/// line feed and carriage return, and U+FFFE, U+FFFF. (Rust strings hold no surrogates.)
pub(crate) fn xml_text(text: &str) -> String {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if text.chars().all(allowed) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
        .collect()
}

/// `at` as the schema's `xs:dateTime` pattern wants it: UTC, to the second, no zone.
fn timestamp(at: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(at).to_string();
    text.trim_end_matches('Z').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_forbids_are_replaced_and_the_rest_kept() {
        assert_eq!(
            xml_text("a\u{0}b\u{1b}[31m\tc\r\nd\u{FFFE}é\u{7f}"),
            "a\u{FFFD}b\u{FFFD}[31m\tc\r\nd\u{FFFD}é\u{7f}"
        );
        assert_eq!(xml_text("plain"), "plain");
    }

    #[test]
    fn the_timestamp_has_no_zone_and_no_fraction() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_764_767_275_123);
        assert_eq!(timestamp(at), "2025-12-03T13:07:55");
    }
}
