//! rolecall-runner: turns expanded scenario cases into real HTTP requests, judges the
//! responses and reports through libtest.
#![forbid(unsafe_code)]
