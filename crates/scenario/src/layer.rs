//! Layers of the stack that can refuse a request.

use std::fmt;
use std::str::FromStr;

/// The control plane that produced a response: the question of every 403 investigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// The application behind every edge component.
    App,
    /// The web server or reverse proxy in front of the app (nginx, Apache httpd).
    Server,
    /// A web application firewall (ModSecurity, AWS WAF, a CDN's WAF rules).
    Waf,
    /// A content delivery network edge (Cloudflare, CloudFront, Akamai).
    Cdn,
    /// The evidence does not say.
    Unknown,
}

impl Layer {
    /// Every layer a scenario may assert, in the order used by documentation.
    pub const ASSERTABLE: [Layer; 4] = [Layer::App, Layer::Server, Layer::Waf, Layer::Cdn];

    /// The lowercase name used in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::App => "app",
            Layer::Server => "server",
            Layer::Waf => "waf",
            Layer::Cdn => "cdn",
            Layer::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string names no layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown layer `{0}`, expected one of app, server, waf, cdn")]
pub struct ParseLayerError(String);

impl FromStr for Layer {
    type Err = ParseLayerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "app" => Ok(Layer::App),
            "server" => Ok(Layer::Server),
            "waf" => Ok(Layer::Waf),
            "cdn" => Ok(Layer::Cdn),
            "unknown" => Ok(Layer::Unknown),
            other => Err(ParseLayerError(other.to_owned())),
        }
    }
}
