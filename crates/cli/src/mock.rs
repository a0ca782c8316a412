//! `rolecall mock serve`: the mock edge as a standalone server.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use rolecall_mock::{MockConfig, MockServer};
use rolecall_runner::Exit;

use crate::render_style;

pub(crate) fn serve(config: &Path, listen: SocketAddr) -> ExitCode {
    let config = match MockConfig::from_path(config) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{}", e.render(render_style()));
            return ExitCode::from(Exit::Invalid);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let log = |refusal: &rolecall_mock::Refusal| {
            let _ = writeln!(std::io::stderr().lock(), "{refusal}");
        };
        let server = match MockServer::start_with_log(config, listen, log).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "rolecall mock edge listening on {} (Ctrl-C stops it)",
            server.url()
        );
        let _ = std::io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("stopping: waiting for requests in flight");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}
