//! Suite settings and the selected target.

use super::values::{pairs, positive_duration};
use super::{Cx, SuiteParts, backticked};
use crate::diagnostic::{SourceFile, did_you_mean};
use crate::load::LoadOptions;
use crate::model::{Endpoint, MAX_CONCURRENCY, Settings, Target};
use crate::raw::Defaults;
use std::time::Duration;
use toml::Spanned;

pub(super) fn resolve_settings(cx: &mut Cx, file: Option<&SourceFile>, d: &Defaults) -> Settings {
    let mut settings = Settings {
        timeout: Duration::from_secs(10),
        concurrency: 64,
        client_ip_header: d
            .client_ip_header
            .clone()
            .unwrap_or_else(|| "X-Forwarded-For".into()),
        country_header: d
            .country_header
            .clone()
            .unwrap_or_else(|| "CF-IPCountry".into()),
        headers: pairs(d.headers.as_ref()),
        fingerprints: None,
    };
    let Some(file) = file else { return settings };
    if let Some(t) = &d.timeout
        && let Some(t) = positive_duration(cx, file, t)
    {
        settings.timeout = t;
    }
    if let Some(f) = &d.fingerprints {
        let path = cx.root.join(f.get_ref());
        if path.is_file() {
            settings.fingerprints = Some(path);
        } else {
            cx.error(
                file,
                f.span(),
                format!("fingerprint file `{}` does not exist", f.get_ref()),
            )
            .label("no such file")
            .help("the path is relative to the suite directory");
        }
    }
    if let Some(c) = &d.concurrency {
        match usize::try_from(*c.get_ref()) {
            Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => settings.concurrency = n,
            _ => {
                cx.error(
                    file,
                    c.span(),
                    format!("invalid concurrency {}", c.get_ref()),
                )
                .label("out of range")
                .help(format!("concurrency is between 1 and {MAX_CONCURRENCY}"));
            }
        }
    }
    settings
}

pub(super) fn resolve_target(
    cx: &mut Cx,
    file: &SourceFile,
    parts: &SuiteParts,
    options: &LoadOptions,
) -> Option<Target> {
    let names: Vec<&str> = parts
        .targets
        .iter()
        .map(|(n, _)| n.get_ref().as_str())
        .collect();
    for (name, def) in &parts.targets {
        match (&def.base_url, &def.mock) {
            (Some(_), Some(m)) => {
                cx.error(file, m.span(), format!("target `{}` has both `base_url` and `mock`", name.get_ref()))
                    .label("choose one")
                    .help("a target is either a real service (`base_url`) or the in-process mock (`mock`)");
            }
            (None, None) => {
                cx.error(
                    file,
                    name.span(),
                    format!(
                        "target `{}` has neither `base_url` nor `mock`",
                        name.get_ref()
                    ),
                )
                .label("incomplete target");
            }
            (None, Some(m)) => {
                if !cx.root.join(m.get_ref()).is_file() {
                    cx.error(
                        file,
                        m.span(),
                        format!("mock configuration `{}` does not exist", m.get_ref()),
                    )
                    .label("no such file")
                    .help("the path is relative to the suite directory");
                }
            }
            (Some(_), None) => {}
        }
    }
    let wanted = match (&options.target, &parts.defaults.target) {
        (Some(name), _) => Spanned::new(0..0, name.clone()),
        (None, Some(name)) => name.clone(),
        (None, None) if parts.targets.len() == 1 => parts.targets[0].0.clone(),
        (None, None) => {
            if parts.targets.len() > 1 {
                cx.error(file, 0..0, "several targets and no default")
                    .label("")
                    .help(format!(
                        "set `defaults.target` to one of {}",
                        backticked(&names)
                    ));
            }
            return None;
        }
    };
    let Some((name, def)) = parts
        .targets
        .iter()
        .find(|(n, _)| n.get_ref() == wanted.get_ref())
    else {
        let help = did_you_mean(wanted.get_ref(), names.iter().copied())
            .unwrap_or_else(|| format!("known targets: {}", backticked(&names)));
        cx.error(
            file,
            wanted.span(),
            format!("unknown target `{}`", wanted.get_ref()),
        )
        .label(if wanted.span().is_empty() {
            ""
        } else {
            "no such target"
        })
        .help(help);
        return None;
    };
    let endpoint = match (&def.base_url, &def.mock) {
        (Some(url), None) => {
            let u = url.get_ref();
            let rest = u
                .strip_prefix("http://")
                .or_else(|| u.strip_prefix("https://"));
            match rest {
                Some(host) if !host.is_empty() && !host.starts_with('/') => {
                    Endpoint::BaseUrl(u.trim_end_matches('/').to_owned())
                }
                _ => {
                    // The value may come from the environment: say what is wrong, never what it is.
                    cx.error(
                        file,
                        url.span(),
                        format!("target `{}` has an invalid `base_url`", name.get_ref()),
                    )
                    .label("expected an http:// or https:// URL with a host")
                    .help("e.g. \"https://staging.example.com\" or \"http://127.0.0.1:8080\"");
                    return None;
                }
            }
        }
        (None, Some(mock)) => Endpoint::Mock(cx.root.join(mock.get_ref())),
        _ => return None,
    };
    let timeout = def
        .timeout
        .as_ref()
        .and_then(|t| positive_duration(cx, file, t));
    let ready_timeout = def
        .ready_timeout
        .as_ref()
        .and_then(|t| positive_duration(cx, file, t))
        .unwrap_or(Duration::from_secs(30));
    let ca_cert = def.ca_cert.as_ref().and_then(|ca| {
        let path = cx.root.join(ca.get_ref());
        if path.is_file() {
            Some(path)
        } else {
            cx.error(
                file,
                ca.span(),
                format!("CA certificate `{}` does not exist", ca.get_ref()),
            )
            .label("no such file")
            .help("the path is relative to the suite directory");
            None
        }
    });
    Some(Target {
        name: name.get_ref().clone(),
        endpoint,
        allow_mutations: def.allow_mutations.unwrap_or(false),
        timeout,
        ca_cert,
        insecure: def.insecure.unwrap_or(false),
        command: def.command.clone(),
        ready: def.ready.clone(),
        ready_timeout,
    })
}
