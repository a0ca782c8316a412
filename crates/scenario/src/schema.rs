//! JSON Schemas of the two file kinds, for editors (taplo / Even Better TOML).

use crate::raw::{RoutesFile, SuiteFile};

/// The JSON Schema of `rolecall.toml`.
pub fn suite_schema() -> schemars::Schema {
    schemars::schema_for!(SuiteFile)
}

/// The JSON Schema of a route file.
pub fn routes_schema() -> schemars::Schema {
    schemars::schema_for!(RoutesFile)
}
