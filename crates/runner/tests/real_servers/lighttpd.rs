//! lighttpd from the Debian package, refusing with `url.access-deny` and a directory
//! without listing (its built-in 403 page), proxying `/api/` to the app.

use std::path::Path;
use std::process::Command;

use crate::process::{self, Server};
use crate::site;

/// Starts lighttpd with a generated configuration in `dir`, proxying `/api/` to `app_port`.
pub(crate) fn start(binary: &Path, dir: &Path, app_port: u16) -> Result<Server, String> {
    site::write_docroot(dir)?;
    let log = dir.join("lighttpd-error.log");
    let token = site::ready_token(dir);
    let binary = binary.to_owned();
    Server::start("lighttpd", dir, &log, &token, |port| {
        process::write(dir, "lighttpd.conf", &config(dir, port, app_port))?;
        let mut command = Command::new(&binary);
        // -D: foreground, one process.
        command.arg("-D").arg("-f").arg(dir.join("lighttpd.conf"));
        Ok(command)
    })
}

fn config(dir: &Path, port: u16, app_port: u16) -> String {
    let dir = dir.display();
    format!(
        r#"server.modules = ("mod_access", "mod_proxy")
server.document-root = "{dir}/www"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/lighttpd-error.log"
server.pid-file = "{dir}/lighttpd.pid"
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain", "" => "application/octet-stream")
# Directory without an index, listing off (the default, said here for the reader).
dir-listing.activate = "disable"

# Path deny.
$HTTP["url"] =~ "^/admin/" {{
    url.access-deny = ("")
}}
# User-agent block.
$HTTP["useragent"] =~ "(?i)badbot" {{
    url.access-deny = ("")
}}
# The app behind the proxy.
$HTTP["url"] =~ "^/api/" {{
    proxy.server = ("" => (("host" => "127.0.0.1", "port" => {app_port})))
}}
"#
    )
}
