//! The `replay` layer: recorded refusals answered byte for byte, matched on method,
//! target and caller; malformed recordings reported at their file, line and column.

use std::path::Path;

use rolecall_mock::MockConfig;
use rolecall_scenario::{Layer, RenderStyle, credential_digest};

use crate::support::Edge;

const APP: &str = "[origin.app]\n[[origin.app.route]]\nrequest = \"GET /admin/\"\npublic = true\n";

/// A nginx 403 as the server sends it: CRLF line ends, which must survive byte for byte.
const NGINX_403: &str = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

/// A recording of `GET path` for a caller described by `credential` (a TOML table, or
/// nothing for every caller).
fn recording(dir: &Path, stem: &str, path: &str, body: &str, credential: &str) {
    write(dir, &format!("{stem}.body"), body);
    write(
        dir,
        &format!("{stem}.toml"),
        &format!(
            "method = \"GET\"\npath = \"{path}\"\nstatus = 403\nbody = \"{stem}.body\"\n\
             headers = [{{ name = \"server\", value = \"nginx/1.22.1\" }}, {{ name = \"content-type\", value = \"text/html\" }}, {{ name = \"x-seen\", value = \"a\" }}, {{ name = \"x-seen\", value = \"b\" }}]\n\
             {credential}\n[verdict]\nlayer = \"server\"\nvendor = \"nginx\"\n"
        ),
    );
}

#[tokio::test]
async fn a_recorded_refusal_is_answered_byte_for_byte_to_its_caller_only() {
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("site/admin");
    let digest = credential_digest("0123abcd", &["Bearer viewer-token-7c41"]);
    recording(
        &admin,
        "viewer",
        "/admin/",
        NGINX_403,
        &format!(
            "[credential]\nheaders = [\"authorization\"]\nsalt = \"0123abcd\"\nsha256 = \"{digest}\"\n"
        ),
    );
    recording(
        &admin,
        "anonymous",
        "/admin/",
        "anonymous page",
        "[credential]\nheaders = []\n",
    );
    recording(
        &dir.path().join("site/any"),
        "x",
        "/any?q=1",
        "for anyone",
        "",
    );
    let edge = Edge::start(&format!(
        "[[layer]]\nreplay = \"{}\"\n{APP}",
        dir.path().display()
    ))
    .await;

    let viewer = [("Authorization", "Bearer viewer-token-7c41")];
    let reply = edge.send("GET", "/admin/", &viewer).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body, NGINX_403.as_bytes());
    assert_eq!(reply.header("server"), Some("nginx/1.22.1"));
    assert_eq!(reply.header_all("x-seen"), ["a", "b"]);
    let refusal = edge.last_refusal();
    assert_eq!((refusal.layer, refusal.persona), (Layer::Server, None));
    assert!(refusal.rule.contains("viewer.toml"), "{}", refusal.rule);

    let reply = edge.send("GET", "/admin/", &[]).await;
    assert_eq!(reply.text(), "anonymous page");

    // Another caller, another method, another query: no recording, the app answers.
    let other = [("Authorization", "Bearer admin-token-9f2e")];
    for (method, target, headers) in [
        ("GET", "/admin/", &other[..]),
        ("HEAD", "/admin/", &[][..]),
        ("GET", "/admin/?x", &[][..]),
    ] {
        let reply = edge.send(method, target, headers).await;
        assert_ne!(reply.status, 403, "{method} {target}");
    }

    // No [credential]: every caller.
    for headers in [&other[..], &[][..]] {
        let reply = edge.send("GET", "/any?q=1", headers).await;
        assert_eq!(reply.text(), "for anyone");
    }
}

#[test]
fn malformed_recordings_are_each_reported_at_their_place() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mock = Path::new("tests/it/fixtures/replay/mock.toml");
    let src = std::fs::read_to_string(root.join(mock)).unwrap();
    let err = MockConfig::from_str(&src, &root.join(mock)).expect_err("recordings are broken");
    let rendered = err.render(RenderStyle::Plain);
    let at: Vec<String> = err
        .diagnostics()
        .iter()
        .map(|d| format!("{}:{}:{}", d.path.display(), d.line, d.column))
        .collect();
    assert_eq!(
        at,
        [
            "tests/it/fixtures/replay/bad/site/admin/layer_and_status.toml:3:10",
            "tests/it/fixtures/replay/bad/site/admin/layer_and_status.toml:11:9",
            "tests/it/fixtures/replay/bad/site/admin/no_body.toml:4:8",
            "tests/it/fixtures/replay/bad/site/admin/syntax.toml:4:20",
        ],
        "{rendered}"
    );
    insta::assert_snapshot!("replay_malformed_recordings", rendered);
}
