//! Varnish Cache from the Debian package, refusing with `return (synth(403))` (its built-in
//! synthetic page) in front of the app.

use std::path::Path;
use std::process::Command;

use crate::process::{self, Server};
use crate::site;

/// Starts varnishd with a generated VCL in `dir`, passing the rest to `app_port`.
pub(crate) fn start(binary: &Path, dir: &Path, app_port: u16) -> Result<Server, String> {
    let work = dir.join("work");
    std::fs::create_dir_all(&work)
        .map_err(|error| format!("cannot create {}: {error}", work.display()))?;
    if process::is_root() {
        // Started as root, varnishd runs its cache process as `vcache`, which must reach
        // the working directory.
        process::open_up(dir, &[&work])?;
        process::open_up_parent(dir)?;
    }
    let log = dir.join("varnish.stderr");
    let token = site::ready_token(dir);
    let binary = binary.to_owned();
    Server::start("varnish", dir, &log, &token, |port| {
        process::write(dir, "default.vcl", &vcl(app_port, &token))?;
        let mut command = Command::new(&binary);
        // -F: foreground; the cache process exits with its manager. -T none: no management
        // port.
        command
            .arg("-F")
            .arg("-n")
            .arg(&work)
            .arg("-a")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-T")
            .arg("none")
            .arg("-f")
            .arg(dir.join("default.vcl"))
            .arg("-s")
            .arg("malloc,16m");
        Ok(command)
    })
}

fn vcl(app_port: u16, token: &str) -> String {
    format!(
        r#"vcl 4.1;

backend app {{
    .host = "127.0.0.1";
    .port = "{app_port}";
}}

sub vcl_recv {{
    if (req.url == "/__ready") {{
        return (synth(200, "{token}"));
    }}
    # Path deny.
    if (req.url ~ "^/admin/") {{
        return (synth(403));
    }}
    # User-agent block.
    if (req.http.user-agent ~ "(?i)badbot") {{
        return (synth(403));
    }}
    return (pass);
}}
"#
    )
}
