//! The JSON Schema of `mock.toml`, for editors and for `cargo xtask schema`.

/// The JSON Schema of `mock.toml`, generated from the same types that parse it.
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(crate::file::MockFile)
}
