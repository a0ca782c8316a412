//! rolecall-scenario: the scenario file model.
#![forbid(unsafe_code)]

mod layer;

pub use layer::{Layer, ParseLayerError};
