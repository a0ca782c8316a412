//! `rolecall new`: route files drafted from an API description, a HAR capture or one
//! request line, deny by default, with a `# TODO(rolecall): …` wherever a person decides.
//!
//! Exit status: 0 when every file was written, 2 for invalid input or when a file exists
//! and `--force` was not given (nothing is written then).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rolecall_coverage::{Draft, from_description, from_har, from_request_line};
use rolecall_runner::Exit;
use rolecall_scenario::{Redacted, SUITE_FILE, Secrets};

use crate::coverage::{load_suite, print_errors, read_inputs, write_file};

/// What `rolecall new` was asked.
pub(crate) struct NewArgs {
    pub(crate) request: Option<String>,
    pub(crate) openapi: Option<PathBuf>,
    pub(crate) har: Vec<PathBuf>,
    pub(crate) allow: Vec<String>,
    pub(crate) suite: PathBuf,
    pub(crate) target: Option<String>,
    pub(crate) out: Option<PathBuf>,
    pub(crate) force: bool,
}

pub(crate) fn new(args: &NewArgs) -> ExitCode {
    let (dir, suite_file) = if args.suite.is_dir() {
        (args.suite.clone(), args.suite.join(SUITE_FILE))
    } else {
        let dir = args.suite.parent().unwrap_or(Path::new(".")).to_owned();
        (dir, args.suite.clone())
    };
    // The suite, when there is one: its identities name the senders of a capture and its
    // variables keep a description's path parameters.
    let suite = if suite_file.is_file() {
        match load_suite(&suite_file, args.target.clone()) {
            Ok(s) => Some(s),
            Err(code) => return code,
        }
    } else if !args.har.is_empty() {
        return print_errors(
            &Secrets::default(),
            &[format!(
                "no suite at `{}`: a capture's senders are recognised by the suite's identities; pass `--suite`",
                suite_file.display()
            )],
        );
    } else {
        None
    };
    let secrets = suite
        .as_ref()
        .map(|s| s.secrets.clone())
        .unwrap_or_default();
    let drafts: Vec<Draft> = if let Some(line) = &args.request {
        match from_request_line(line, &args.allow, suite.as_ref()) {
            Ok(draft) => vec![draft],
            Err(e) => return print_errors(&secrets, &[e]),
        }
    } else {
        match read_inputs(args.openapi.as_deref(), &args.har) {
            Ok((Some(description), _)) => from_description(&description, suite.as_ref()),
            Ok((None, captures)) => from_har(&captures, suite.as_ref()),
            Err(errors) => {
                let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                return print_errors(&secrets, &errors);
            }
        }
    };
    let out_dir = args.out.clone().unwrap_or(dir);
    if !out_dir.is_dir() {
        return print_errors(
            &secrets,
            &[format!("`{}` is not a directory", out_dir.display())],
        );
    }
    let existing: Vec<String> = drafts
        .iter()
        .map(|d| out_dir.join(&d.name))
        .filter(|p| p.exists() && !args.force)
        .map(|p| format!("`{}` exists; pass `--force` to replace it", p.display()))
        .collect();
    if !existing.is_empty() {
        return print_errors(&secrets, &existing);
    }
    let mut out = Redacted::new(secrets.clone(), std::io::stdout().lock());
    for draft in &drafts {
        let path = out_dir.join(&draft.name);
        if let Err(e) = write_file(&path, &secrets, |w| w.write_all(draft.text.as_bytes())) {
            drop(out);
            return print_errors(&secrets, &[format!("`{}`: {e}", path.display())]);
        }
        let _ = writeln!(
            out,
            "wrote {} ({} route{})",
            path.display(),
            draft.routes,
            if draft.routes == 1 { "" } else { "s" }
        );
    }
    let todos: usize = drafts
        .iter()
        .map(|d| d.text.matches("# TODO(rolecall)").count())
        .sum();
    let _ = writeln!(
        out,
        "{todos} TODO(rolecall) mark{} to settle; then `rolecall check {}`",
        if todos == 1 { "" } else { "s" },
        args.suite.display()
    );
    ExitCode::from(Exit::Passed)
}
