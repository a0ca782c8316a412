//! Integration tests of the mock edge, over real loopback sockets. One binary for all.

mod app;
mod config;
mod layers;
mod load;
mod personas;
mod proxy;
mod replay;
mod resources;
mod support;
#[cfg(feature = "wiremock")]
mod wiremock_respond;
