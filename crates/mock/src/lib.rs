//! rolecall-mock: an edge (CDN, WAF, web-server layers with vendor-style deny pages) in
//! front of a policy-driven mock app or a real upstream.
#![forbid(unsafe_code)]
