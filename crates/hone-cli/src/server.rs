//! `hone server`: MLflow's tracking REST API over the store (a thin call into `hone_server`).

use std::io::Write as _;

use clap::Args;

use crate::CliError;
use crate::tracking::StoreArgs;

/// `hone server [--host 127.0.0.1] [--port 5000] [--store URI] [--artifacts URI]`
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Address to bind: a loopback address (there is no authentication yet).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port (0: any free port; the line printed at start says which).
    #[arg(long, default_value_t = 5000)]
    port: u16,
    #[command(flatten)]
    store: StoreArgs,
}

/// Serves the store until Ctrl-C or SIGTERM.
pub fn server(args: ServerArgs) -> Result<(), CliError> {
    let location = args.store.location()?;
    let config = hone_server::ServerConfig {
        host: args.host,
        port: args.port,
        store_uri: location.store_uri,
        artifacts_uri: location.artifacts.clone(),
    };
    hone_server::run(&config, |address, store| {
        println!(
            "hone server listening on http://{address} (store {store}, artifacts {})",
            location.artifacts
        );
        // Scripts and tests read this line to learn the port: send it now.
        let _ = std::io::stdout().flush();
    })
    .map_err(|e| match e {
        hone_server::ServerError::NotLoopback(_) => CliError::usage(e.to_string()),
        _ => CliError::runtime(e.to_string()),
    })
}
