//! `serve`: the history's web page and JSON API (the `history-http` router) on a local
//! address, over the file opened read-only.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::ServeArgs;
use crate::error::CliError;
use crate::output::Out;
use crate::store;

/// Serves until interrupted (Ctrl-C); prints the page's address first.
pub(crate) fn run(db: &Path, args: &ServeArgs, out: &mut Out) -> Result<u64, CliError> {
    let store = store::read(db)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|source| CliError::Serve {
                addr: args.addr,
                source,
            })?;
        let addr: SocketAddr = listener.local_addr()?;
        let app = history_http::HistoryApi::new(Arc::new(store))
            .poll_interval(Duration::from_millis(args.poll_interval_ms))
            .router();
        writeln!(
            out.w(),
            "Serving the history in {} at http://{addr}/ (the JSON API under /events, /stats, \
             /openapi.json); Ctrl-C stops.",
            db.display()
        )?;
        out.flush()?;
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok::<(), CliError>(())
    })?;
    Ok(1)
}
