//! The trial of Radicale's own API, without rolecall: what `radicale.rs` says it answers,
//! checked, so that a scenario test over it (crates/cli/tests/cli/radicale.rs) rests on
//! known behaviour.

use std::path::PathBuf;

use libtest_mimic::{Completion, Failed, Trial};
use reqwest::Method;
use reqwest::blocking::Client;

use crate::radicale::{Radicale, calendar, objects_left, password};

/// The trial: created by its owner, refused to everyone else as `owner_only` says, and
/// nothing left behind after the owner deletes it.
pub(crate) fn trial(client: Client, dir: PathBuf) -> Trial {
    Trial::ignorable_test("radicale::owner_only_objects", move || {
        let binary = match Radicale::find() {
            Ok(binary) => binary,
            Err(reason) if crate::required() => {
                return Err(format!("{reason}; CI=true requires it (see REAL_SERVERS.md)").into());
            }
            Err(reason) => return Ok(Completion::ignored_with(reason)),
        };
        let dir = dir.join("radicale");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let radicale = Radicale::start(&binary, &dir)?;
        owner_only(&client, &radicale).map(|()| Completion::Completed)
    })
}

fn owner_only(client: &Client, radicale: &Radicale) -> Result<(), Failed> {
    let send = |who: Option<(&str, &str)>, method: Method, path: &str, body: Option<String>| {
        let mut request = client.request(method.clone(), radicale.url(path));
        if let Some((user, password)) = who {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "text/calendar; charset=utf-8")
                .body(body);
        }
        let response = request
            .send()
            .map_err(|error| format!("{method} {path}: {error}"))?;
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        Ok::<_, String>((status, text))
    };
    let as_user = |user: &'static str| Some((user, password(user)));
    let expect = |what: &str, got: (u16, String), status: u16| {
        if got.0 == status {
            Ok(got.1)
        } else {
            Err(format!("{what}: {} instead of {status}\n{}", got.0, got.1))
        }
    };
    let left = |user| objects_left(client, radicale, user);

    if left("alice")? != 0 {
        return Err("a fresh Radicale already holds alice's collections".into());
    }
    let cal = "/alice/rolecall-fixture/";
    let put = send(
        as_user("alice"),
        Method::PUT,
        cal,
        Some(calendar("fixture-1")),
    )?;
    expect("alice creates her calendar", put, 201)?;
    if left("alice")? != 1 {
        return Err("alice's calendar is not counted".into());
    }
    let read = expect(
        "alice reads it",
        send(as_user("alice"), Method::GET, cal, None)?,
        200,
    )?;
    if !read.contains("UID:fixture-1") {
        return Err(format!("alice's calendar lost its event:\n{read}").into());
    }
    for user in ["bob", "carol"] {
        for (method, body) in [
            (Method::GET, None),
            (Method::PUT, Some(calendar("takeover"))),
            (Method::DELETE, None),
        ] {
            let what = format!("{user} {method} on alice's calendar");
            expect(&what, send(as_user(user), method, cal, body)?, 403)?;
        }
    }
    // A collection of alice's that does not exist is refused to bob the same way.
    expect(
        "bob GET on a missing calendar of alice's",
        send(as_user("bob"), Method::GET, "/alice/nothing-here/", None)?,
        403,
    )?;
    expect("no credentials", send(None, Method::GET, cal, None)?, 401)?;
    expect(
        "a wrong password",
        send(Some(("alice", "not-her-password")), Method::GET, cal, None)?,
        401,
    )?;
    // Bob's refusal is the rights, not his account: his own calendar works.
    let own = "/bob/rolecall-fixture/";
    expect(
        "bob creates his own",
        send(as_user("bob"), Method::PUT, own, Some(calendar("b")))?,
        201,
    )?;
    if objects_left(client, radicale, "bob")? != 1 {
        return Err("bob's calendar is not counted".into());
    }
    expect(
        "bob deletes his own",
        send(as_user("bob"), Method::DELETE, own, None)?,
        200,
    )?;
    // Teardown: the owner deletes, and nothing is left.
    expect(
        "alice deletes hers",
        send(as_user("alice"), Method::DELETE, cal, None)?,
        200,
    )?;
    expect(
        "deleted twice",
        send(as_user("alice"), Method::DELETE, cal, None)?,
        404,
    )?;
    expect(
        "read after delete",
        send(as_user("alice"), Method::GET, cal, None)?,
        404,
    )?;
    let after = (left("alice")?, objects_left(client, radicale, "bob")?);
    if after != (0, 0) {
        return Err(format!("objects left behind (alice, bob): {after:?}").into());
    }
    // Counting another user's collections is refused, not zero.
    let peek = client
        .request(
            Method::from_bytes(b"PROPFIND").map_err(|e| e.to_string())?,
            radicale.url("/alice/"),
        )
        .basic_auth("bob", Some(password("bob")))
        .header("Depth", "1")
        .send()
        .map_err(|error| error.to_string())?;
    expect(
        "bob PROPFIND on alice's home",
        (peek.status().as_u16(), String::new()),
        403,
    )?;
    Ok(())
}
