//! `erp-server` binary: configuration, database start-up, serving, graceful shutdown.

use std::process::ExitCode;

use erp_server::{
    AppState,
    cli::{Cli, Command},
    config::ServerConfig,
    router,
};

/// See the `mimalloc` feature in Cargo.toml.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is worth saying.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("erp-server: cannot read .env: {e}");
        return ExitCode::FAILURE;
    }
    let cli = <Cli as clap::Parser>::parse();
    if let Some(Command::Healthcheck(args)) = &cli.command {
        // Before logging and the full configuration: the probe needs only ERP_BIND and
        // reports on stderr, one line.
        return erp_server::healthcheck::run(args.timeout()).await;
    }
    let telemetry = match erp_server::logging::init() {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("erp-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    if telemetry.exports_traces() {
        tracing::info!("exporting traces over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)");
    }
    // Start-up futures hold the whole assembled state: box them once, off the stack.
    let code = match Box::pin(run(cli)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("erp-server: {e}");
            ExitCode::FAILURE
        }
    };
    // The exporter's last batch: its flush blocks on the collector, off the runtime.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    code
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = ServerConfig::from_env()?;
    match cli.command {
        None | Some(Command::Serve) => Box::pin(serve(config)).await,
        Some(command) => Box::pin(erp_server::cli::run(command, config)).await,
    }
}

async fn serve(config: ServerConfig) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if let Some(path) = config.embedded_path() {
        tracing::warn!(
            "DATABASE_URL is not set: using the embedded SQLite database at {} \
             (development only; set DATABASE_URL=postgres://... for real deployments)",
            path.display()
        );
    }
    let bind = config.bind;
    let state = AppState::build(config).await?;
    tracing::info!(backend = %erp_core::sql::Executor::backend(&state.db), "database ready");
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on ERP_BIND={bind}: {e}"))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
