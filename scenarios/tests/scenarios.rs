//! Every identity × route case of the example suite is one test.
fn main() -> std::process::ExitCode {
    rolecall_runner::harness(".")
}
