//! Squid from the Debian package as a reverse proxy (accelerator) in front of the app,
//! refusing with `http_access deny` (its ERR_ACCESS_DENIED page).

use std::path::Path;
use std::process::Command;

use crate::process::{self, Server};
use crate::site;

/// Starts Squid with a generated configuration in `dir`, forwarding to `app_port`.
pub(crate) fn start(binary: &Path, dir: &Path, app_port: u16) -> Result<Server, String> {
    if process::is_root() {
        // Started as root, Squid switches to its `proxy` account, which writes the log.
        process::open_up(dir, &[dir])?;
        process::open_up_parent(dir)?;
    }
    let log = dir.join("cache.log");
    let token = site::ready_token(dir);
    let binary = binary.to_owned();
    Server::start("squid", dir, &log, &token, |port| {
        process::write(dir, "squid.conf", &config(dir, port, app_port, &token))?;
        let mut command = Command::new(&binary);
        // -N: no daemon, one process. -n: a service name of this instance's own, so its
        // shared memory segments never meet another Squid's.
        command
            .arg("-N")
            .arg("-n")
            .arg(format!("rolecall{port}"))
            .arg("-f")
            .arg(dir.join("squid.conf"));
        Ok(command)
    })
}

fn config(dir: &Path, port: u16, app_port: u16, token: &str) -> String {
    let dir = dir.display();
    format!(
        r#"http_port 127.0.0.1:{port} accel defaultsite=localhost no-vhost
cache_peer 127.0.0.1 parent {app_port} 0 no-query originserver name=app
cache_peer_access app allow all
# Error pages name the host in their footer: the run's token, never the machine's name.
visible_hostname {token}
cache deny all
cache_mem 8 MB
access_log none
cache_log {dir}/cache.log
pid_filename none
coredump_dir none
netdb_filename none
shutdown_lifetime 0 seconds

# The readiness probe is refused: the error page's footer carries the token.
acl ready urlpath_regex ^/__ready$
# Path deny.
acl admin urlpath_regex ^/admin/
# User-agent block.
acl badbot browser -i badbot
http_access deny ready
http_access deny admin
http_access deny badbot
http_access allow all
"#
    )
}
