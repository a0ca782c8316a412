//! Apache httpd from the Debian package, with mod_security2 and the OWASP Core Rule Set,
//! configured with the refusals the suite checks.

use std::path::Path;
use std::process::Command;

use crate::process::{self, Server};
use crate::site;

/// Where Debian installs the loadable modules.
pub(crate) const MODULES: &str = "/usr/lib/apache2/modules";
/// The Core Rule Set as packaged by Debian (`modsecurity-crs`).
pub(crate) const CRS_SETUP: &str = "/etc/modsecurity/crs/crs-setup.conf";
pub(crate) const CRS_RULES: &str = "/usr/share/modsecurity-crs/rules";

/// Which server-wide defaults Apache runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// httpd's compiled-in defaults: `ServerTokens Full`, `ServerSignature Off`, so error
    /// pages end without the `<address>` line.
    Compiled,
    /// What a stock Debian install adds in /etc/apache2/conf-available/security.conf
    /// (enabled by the package): `ServerTokens OS` and `ServerSignature On`, so error
    /// pages end with `Apache/… (Debian) Server at <host> Port <port>`. The mock edge's
    /// apache persona imitates this install.
    DebianStock,
}

/// Starts Apache with a generated configuration in `dir`, proxying `/api/` to `app_port`.
pub(crate) fn start(
    binary: &Path,
    dir: &Path,
    app_port: u16,
    profile: Profile,
) -> Result<Server, String> {
    site::write_docroot(dir)?;
    let data = dir.join("modsecurity");
    std::fs::create_dir_all(&data)
        .map_err(|error| format!("cannot create {}: {error}", data.display()))?;
    let user = process::is_root().then(process::unprivileged_user);
    if user.is_some() {
        process::open_up(dir, &[&data])?;
    }
    let log = dir.join("apache-error.log");
    let token = site::ready_token(dir);
    let binary = binary.to_owned();
    Server::start("apache", dir, &log, &token, |port| {
        process::write(
            dir,
            "httpd.conf",
            &config(dir, port, app_port, user, profile),
        )?;
        let mut command = Command::new(&binary);
        // -X: one process in the foreground, so the test kills exactly what it started.
        command
            .arg("-X")
            .arg("-d")
            .arg(dir)
            .arg("-f")
            .arg(dir.join("httpd.conf"));
        Ok(command)
    })
}

fn config(
    dir: &Path,
    port: u16,
    app_port: u16,
    user: Option<(&str, &str)>,
    profile: Profile,
) -> String {
    let dir = dir.display();
    // Written out rather than included from /etc/apache2, so that a local edit of
    // security.conf cannot change what the tests compare against.
    let defaults = match profile {
        Profile::Compiled => "",
        Profile::DebianStock => "ServerTokens OS\nServerSignature On\n",
    };
    let user = match user {
        // As root Apache switches to this account after binding; unprivileged it keeps
        // running as the invoking user and the directives would only be ignored.
        Some((user, group)) => format!("User {user}\nGroup {group}"),
        None => String::new(),
    };
    let modules = [
        ("mpm_event_module", "mod_mpm_event.so"),
        ("authn_core_module", "mod_authn_core.so"),
        ("authz_core_module", "mod_authz_core.so"),
        ("authz_host_module", "mod_authz_host.so"),
        ("dir_module", "mod_dir.so"),
        ("autoindex_module", "mod_autoindex.so"),
        ("mime_module", "mod_mime.so"),
        ("setenvif_module", "mod_setenvif.so"),
        ("rewrite_module", "mod_rewrite.so"),
        ("headers_module", "mod_headers.so"),
        ("remoteip_module", "mod_remoteip.so"),
        ("proxy_module", "mod_proxy.so"),
        ("proxy_http_module", "mod_proxy_http.so"),
        ("unique_id_module", "mod_unique_id.so"),
        ("security2_module", "mod_security2.so"),
    ]
    .iter()
    .map(|(name, file)| format!("LoadModule {name} {MODULES}/{file}\n"))
    .collect::<String>();
    format!(
        r#"ServerRoot {dir}
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {dir}/httpd.pid
DefaultRuntimeDir {dir}
ErrorLog {dir}/apache-error.log
LogLevel warn
{user}
{defaults}{modules}
# -X serves one connection at a time; keep-alive would let one idle client stall the rest.
KeepAlive Off
TypesConfig /dev/null
AddType text/html .html
AddType text/plain .txt
AddType image/png .png
DirectoryIndex index.html
DocumentRoot {dir}/www

# The client address comes from X-Forwarded-For when the proxy in front is local.
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1

# User-agent block.
BrowserMatchNoCase "badbot" bad_bot

<Directory />
    AllowOverride None
    Require all denied
</Directory>

<Directory {dir}/www>
    # Directory without an index and listing off.
    Options -Indexes
    # .htaccess files may restrict access (www/private/.htaccess: Require all denied).
    AllowOverride All
    <RequireAll>
        Require all granted
        Require not env bad_bot
    </RequireAll>
</Directory>

# Hotlink protection.
<Directory {dir}/www/images>
    RewriteEngine On
    RewriteCond "%{{HTTP_REFERER}}" "!^$"
    RewriteCond "%{{HTTP_REFERER}}" "!^https?://(localhost|127\.0\.0\.1)(:[0-9]+)?/" [NC]
    RewriteRule "." "-" [F]
</Directory>

# Path deny.
<Location /admin/>
    Require all denied
</Location>

# IP allow-list.
<Location /internal/>
    Require ip 10.0.0.0/8
</Location>

# IP allow-list, hardened: the connection's peer address, which no request header changes.
<Location /internal-peer/>
    Require expr "%{{CONN_REMOTE_ADDR}} -ipmatch '10.0.0.0/8'"
</Location>

# Bypassable the way real deployments are: a regex deny that matches one spelling of a
# path, in front of an app that also serves the path with a trailing slash.
ProxyPass /exact/ http://127.0.0.1:{app_port}/exact/
<Location /exact/>
    Require all granted
</Location>
<LocationMatch "^/exact/admin$">
    Require all denied
</LocationMatch>

# The app behind the proxy.
ProxyPass /api/ http://127.0.0.1:{app_port}/api/
<Location /api/>
    <RequireAll>
        Require all granted
        Require not env bad_bot
    </RequireAll>
</Location>

# ModSecurity with the OWASP Core Rule Set in blocking mode, as Debian packages them.
SecRuleEngine On
SecRequestBodyAccess On
SecDataDir {dir}/modsecurity
SecTmpDir {dir}/modsecurity
SecAuditEngine Off
Include {CRS_SETUP}
Include {CRS_RULES}/*.conf

# Marking blocks, the configuration that lets rolecall tell a ModSecurity deny from
# Apache's own 403: the CRS blocking rule sets an environment variable, and a header
# is added to responses that carry it. Scoped to /marked/ so that every other path
# shows the default, unmarked behaviour.
SecRuleUpdateActionById 949110 "setenv:MODSEC_BLOCKED=1"
<Location /marked/>
    Header always set X-Blocked-By "ModSecurity" env=MODSEC_BLOCKED
</Location>
"#
    )
}
