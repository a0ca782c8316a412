//! Radicale, a CalDAV/CardDAV server (Debian package `radicale`), as a real application
//! with per-object permissions: users alice, bob and carol (htpasswd, plain), rights
//! `owner_only` (each user reads and writes only under `/<user>/`), storage in a
//! temporary folder, on 127.0.0.1 and an ephemeral port.
//!
//! What it answers, as checked below (Radicale 3.1): a whole calendar PUT to a new
//! collection URL `/<user>/<name>/` creates it (201); its owner reads it (200, the
//! iCalendar text) and deletes it (200; again: 404); any other user is refused with 403
//! whatever the method (GET, PUT, DELETE, PROPFIND), so it never learns whether the
//! collection exists; no or wrong credentials get 401 with a Basic challenge. Collections
//! can also be made with MKCALENDAR/MKCOL and listed with PROPFIND, which rolecall's
//! scenarios cannot send (their methods are GET, HEAD, OPTIONS, TRACE, POST, PUT, PATCH
//! and DELETE): a suite creates with PUT, and [`objects_left`] counts with PROPFIND.

//!
//! This file holds only the server and what a test counts with; `crates/cli/tests` includes
//! it (with `process.rs`) for the scenario test through the `rolecall` binary, and the
//! trial of Radicale's own API is in `radicale_api.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use reqwest::blocking::Client;

use super::process::{self, Server};

/// The users Radicale knows, with their passwords.
pub(crate) const USERS: [(&str, &str); 3] = [
    ("alice", "alice-radicale-pw"),
    ("bob", "bob-radicale-pw"),
    ("carol", "carol-radicale-pw"),
];

/// A running Radicale, stopped when dropped.
#[derive(Debug)]
pub(crate) struct Radicale {
    server: Server,
}

impl Radicale {
    /// Finds the `radicale` program: `ROLECALL_RADICALE`, else the usual places.
    pub(crate) fn find() -> Result<PathBuf, String> {
        process::find_binary("radicale", "ROLECALL_RADICALE")
            .map_err(|error| format!("{error} (Debian package `radicale`)"))
    }

    /// Writes a configuration under `dir` and starts Radicale until it answers.
    pub(crate) fn start(binary: &Path, dir: &Path) -> Result<Radicale, String> {
        let users: String = USERS
            .iter()
            .map(|(user, password)| format!("{user}:{password}\n"))
            .collect();
        process::write(dir, "users", &users)?;
        let storage = dir.join("collections");
        // The realm is sent in every 401: readiness waits for this one, so another
        // process that took the port first is never mistaken for this server.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let realm = format!("rolecall-radicale-{}-{nanos}", std::process::id());
        let log = dir.join("radicale.stderr");
        let server = Server::start("radicale", dir, &log, &realm, |port| {
            let config = format!(
                "[server]\nhosts = 127.0.0.1:{port}\n\
                 [auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\nrealm = {realm}\n\
                 [rights]\ntype = owner_only\n\
                 [storage]\nfilesystem_folder = {storage}\n\
                 [web]\ntype = none\n\
                 [logging]\nlevel = warning\nmask_passwords = True\n",
                users = dir.join("users").display(),
                storage = storage.display(),
            );
            process::write(dir, "config", &config)?;
            let mut command = Command::new(binary);
            command.arg("--config").arg(dir.join("config"));
            Ok(command)
        })?;
        Ok(Radicale { server })
    }

    /// `http://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        self.server.url(path)
    }
}

/// The password of `user`.
pub(crate) fn password(user: &str) -> &'static str {
    USERS
        .iter()
        .find(|(name, _)| *name == user)
        .map_or("", |(_, password)| password)
}

/// The collections `user` has left behind: PROPFIND with `Depth: 1` on `/<user>/` as
/// that user, less the principal itself. This is what a suite's teardown must bring back
/// to 0.
pub(crate) fn objects_left(
    client: &Client,
    radicale: &Radicale,
    user: &str,
) -> Result<usize, String> {
    let home = format!("/{user}/");
    let response = client
        .request(Method::from_bytes(b"PROPFIND").map_err(|e| e.to_string())?, radicale.url(&home))
        .basic_auth(user, Some(password(user)))
        .header("Depth", "1")
        .header("Content-Type", "application/xml")
        .body(r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#)
        .send()
        .map_err(|error| format!("PROPFIND {home}: {error}"))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .map_err(|error| format!("PROPFIND {home}: {error}"))?;
    if status != 207 {
        return Err(format!(
            "PROPFIND {home} as {user}: {status}, not 207: {body}"
        ));
    }
    Ok(hrefs(&body).filter(|href| *href != home).count())
}

/// The `<href>` of every `<response>` in a multistatus body (Radicale writes the DAV
/// namespace as the default, so the elements carry no prefix).
fn hrefs(body: &str) -> impl Iterator<Item = &str> {
    body.split("<response>").skip(1).filter_map(|response| {
        let start = response.find("<href>")? + "<href>".len();
        let end = response[start..].find("</href>")? + start;
        Some(&response[start..end])
    })
}

/// A calendar with one event, as a whole-collection PUT sends it.
pub(crate) fn calendar(uid: &str) -> String {
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//rolecall//real-servers//EN",
        "BEGIN:VEVENT",
        &format!("UID:{uid}"),
        "DTSTAMP:20260101T000000Z",
        "DTSTART:20260101T100000Z",
        "SUMMARY:rolecall fixture",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    .join("\r\n")
}
