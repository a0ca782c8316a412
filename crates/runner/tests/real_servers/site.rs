//! The document root both servers serve: one directory per refusal under test, each
//! with a file that an allowed request can fetch.

use std::path::Path;

use crate::process;

/// Writes the document root under `dir/www`.
pub(crate) fn write_docroot(dir: &Path) -> Result<(), String> {
    let page = "<!doctype html><title>ok</title><p>allowed</p>\n";
    for (path, contents) in [
        ("www/index.html", page),
        ("www/admin/index.html", page),
        ("www/internal/index.html", page),
        ("www/internal-peer/index.html", page),
        // No index file here: the directory itself must be refused, not listed.
        ("www/files/readme.txt", "allowed\n"),
        ("www/images/logo.png", "not really a png\n"),
        ("www/private/secret.txt", "must never be served\n"),
        // Only Apache reads it; nginx has no per-directory configuration files.
        ("www/private/.htaccess", "Require all denied\n"),
        ("www/marked/index.html", page),
        ("www/__ready", &ready_token(dir)),
    ] {
        process::write(dir, path, contents)?;
    }
    Ok(())
}

/// A token unique to this run's directory, so that readiness probes recognise the
/// server they started.
pub(crate) fn ready_token(dir: &Path) -> String {
    format!(
        "rolecall-ready-{}",
        dir.file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned())
    )
}
