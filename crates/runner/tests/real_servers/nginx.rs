//! nginx from the Debian package, configured with the refusals the suite checks.

use std::path::Path;
use std::process::Command;

use crate::process::{self, Server};
use crate::site;

/// Starts nginx with a generated configuration in `dir`, proxying `/api/` to `app_port`.
pub(crate) fn start(binary: &Path, dir: &Path, app_port: u16) -> Result<Server, String> {
    site::write_docroot(dir)?;
    for temp in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(dir.join("temp").join(temp))
            .map_err(|error| format!("cannot create nginx temp dir: {error}"))?;
    }
    let log = dir.join("nginx-error.log");
    let token = site::ready_token(dir);
    let binary = binary.to_owned();
    Server::start("nginx", dir, &log, &token, |port| {
        process::write(dir, "nginx.conf", &config(dir, port, app_port, &token))?;
        let mut command = Command::new(&binary);
        // -e keeps nginx from opening the packaged /var/log/nginx/error.log before it has
        // read the configuration, which an unprivileged user cannot do.
        command
            .arg("-e")
            .arg(&log)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"));
        Ok(command)
    })
}

fn config(dir: &Path, port: u16, app_port: u16, token: &str) -> String {
    let dir = dir.display();
    format!(
        r#"# One process in the foreground: the test kills exactly the process it started.
# Without a master there is no privilege drop, so the `user` directive is not needed
# even when the suite runs as root.
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;

events {{
    worker_connections 64;
}}

http {{
    access_log off;
    default_type application/octet-stream;
    types {{
        text/html html;
        text/plain txt;
        image/png png;
    }}
    client_body_temp_path {dir}/temp/client_body;
    proxy_temp_path {dir}/temp/proxy;
    fastcgi_temp_path {dir}/temp/fastcgi;
    uwsgi_temp_path {dir}/temp/uwsgi;
    scgi_temp_path {dir}/temp/scgi;

    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {dir}/www;

        # The client address comes from X-Forwarded-For when the proxy in front is local.
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;

        # User-agent block.
        if ($http_user_agent ~* "badbot") {{
            return 403;
        }}

        location = /__ready {{
            default_type text/plain;
            return 200 "{token}";
        }}

        # Path deny.
        location /admin/ {{
            deny all;
        }}

        # IP allow-list.
        location /internal/ {{
            allow 10.0.0.0/8;
            deny all;
        }}

        # Directory without an index and listing off.
        location /files/ {{
            autoindex off;
        }}

        # Hotlink protection.
        location /images/ {{
            valid_referers none blocked server_names;
            if ($invalid_referer) {{
                return 403;
            }}
        }}

        # Bypassable the way real deployments are: an exact-match deny in front of an app
        # that also serves the path with a trailing slash (the raw URI is passed on).
        location = /exact/admin {{
            return 403;
        }}
        location /exact/ {{
            proxy_pass http://127.0.0.1:{app_port};
        }}

        # The app behind the proxy.
        location /api/ {{
            proxy_pass http://127.0.0.1:{app_port};
        }}
    }}
}}
"#
    )
}
