//! `rathaus`: the composition root. It parses the command line, loads the configuration and
//! hands over to the command; all behaviour lives in the library crates.

mod cli;
mod commands;
mod logging;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use rathaus_shared::Config;

use cli::{Cli, Command};
use commands::{AnnounceMode, with_app};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("rathaus: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_tracing(&config) {
        eprintln!("rathaus: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rathaus: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    match runtime.block_on(dispatch(command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: operators grep logs, and supervisors show the last line.
            eprintln!("rathaus: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve::run(config).await,
        Command::Migrate { status } => commands::migrate(&config, status).await,
        Command::CheckConfig => commands::check_config(&config),
        Command::Backup { file } => commands::backup(&config, &file).await,
        Command::Comments { action } => {
            with_app(config, |app| commands::comments(app, action)).await
        }
        Command::Export { id, format, out } => {
            with_app(config, |app| async move {
                commands::export(app, id, format, &out).await
            })
            .await
        }
        Command::Announce {
            text,
            title,
            consultation: _,
            closes,
            correct,
            retract,
        } => {
            let mode = match (retract, correct) {
                (Some(id), _) => AnnounceMode::Retract(id),
                (None, Some(id)) => AnnounceMode::Correct(id),
                (None, None) => AnnounceMode::New { title, closes },
            };
            with_app(config, |app| commands::announce(app, mode, text)).await
        }
        Command::Result { id, text } => {
            with_app(config, |app| commands::result(app, id, text)).await
        }
        Command::Close { id } => with_app(config, |app| commands::close(app, id)).await,
        Command::Retention => with_app(config, commands::retention).await,
        Command::Blocks { action } => with_app(config, |app| commands::blocks(app, action)).await,
        Command::Erase { author, comment } => {
            with_app(config, |app| commands::erase(app, author, comment)).await
        }
    }
}

fn init_tracing(config: &Config) -> anyhow::Result<()> {
    let user = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => f,
        _ => config.log.filter.clone(),
    };
    logging::init(&user, config.log.format)
}
