//! HAProxy from the Debian package, refusing with `http-request deny` (its own 403 page) in
//! front of the app.

use std::path::Path;
use std::process::Command;

use crate::process::{self, Server};
use crate::site;

/// Starts HAProxy with a generated configuration in `dir`, proxying the rest to `app_port`.
pub(crate) fn start(binary: &Path, dir: &Path, app_port: u16) -> Result<Server, String> {
    let log = dir.join("haproxy.stderr");
    let token = site::ready_token(dir);
    let binary = binary.to_owned();
    Server::start("haproxy", dir, &log, &token, |port| {
        process::write(dir, "haproxy.cfg", &config(port, app_port, &token))?;
        let mut command = Command::new(&binary);
        // -db: foreground, no daemon, one process (no master-worker without -W).
        command.arg("-db").arg("-f").arg(dir.join("haproxy.cfg"));
        Ok(command)
    })
}

fn config(port: u16, app_port: u16, token: &str) -> String {
    format!(
        r#"global
    maxconn 64

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend edge
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string "{token}" if {{ path /__ready }}
    # Path deny.
    http-request deny if {{ path_beg /admin/ }}
    # User-agent block.
    http-request deny if {{ req.hdr(user-agent) -m reg -i badbot }}
    # IP allow-list on the last X-Forwarded-For address.
    http-request deny if {{ path_beg /api/internal }} !{{ req.hdr_ip(x-forwarded-for,-1) 10.0.0.0/8 }}
    default_backend app

backend app
    server app 127.0.0.1:{app_port}
"#
    )
}
