//! What a bypass variant sends: worked out once, the same way for the engine that sends
//! it and for the failure message that shows it.

use reqwest::Url;
use rolecall_scenario::{Method, REWRITE_PROBE, Secrets, Variant, VariantKind};

/// A variant's request, derived from the refused request's URL.
#[derive(Debug, Clone)]
pub(crate) struct VariantRequest {
    /// The method on the request line.
    pub(crate) method: Method,
    /// Where a variant sent by the ordinary client goes; for a raw one, its origin.
    pub(crate) url: Url,
    /// The request target, byte-exact, for a variant sent on a raw connection.
    pub(crate) raw_target: Option<String>,
    /// HTTP/1.0 without `Host`.
    pub(crate) http10: bool,
    /// A header the variant sets, replacing any of that name: name and value.
    pub(crate) header: Option<(&'static str, String)>,
}

impl VariantRequest {
    /// The request target as sent: the raw one, or the URL's path and query.
    pub(crate) fn target(&self) -> String {
        match &self.raw_target {
            Some(target) => target.clone(),
            None => path_and_query(&self.url),
        }
    }
}

fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The request `variant` makes of the refused request to `url` sent with `method`, or
/// why it cannot be made (a path the spelling does not apply to, or one it would cut a
/// secret of apart).
pub(crate) fn build(
    variant: &Variant,
    method: Method,
    url: Url,
    secrets: &Secrets,
) -> Result<VariantRequest, String> {
    let mut request = VariantRequest {
        method: variant.method(method),
        header: variant.header(&path_and_query(&url)),
        url,
        raw_target: None,
        http10: false,
    };
    match variant.kind {
        VariantKind::Path(spelling) => {
            let target = spelling
                .apply(request.url.path(), request.url.query(), secrets)
                .ok_or_else(|| format!(
                    "variant `{}` does not apply to this path (or would cut a secret in it apart)",
                    variant.name
                ))?;
            request.raw_target = Some(target);
        }
        VariantKind::Http10 => {
            request.raw_target = Some(path_and_query(&request.url));
            request.http10 = true;
        }
        VariantKind::Override {
            carrier: "_method",
            names,
            ..
        } => {
            request
                .url
                .query_pairs_mut()
                .append_pair("_method", names.as_str());
        }
        VariantKind::Rewrite(header) if header != "X-Forwarded-Prefix" => {
            request.url.set_path(REWRITE_PROBE);
            request.url.set_query(None);
        }
        _ => {}
    }
    Ok(request)
}
