//! `livecdn`: one binary, a subcommand per role. Parses the CLI, loads the configuration,
//! sets up logging and hands over to the role libraries. Invalid configuration prints one line
//! and exits 64; any other failure prints one line and exits 1.

mod cli;
mod dev_cluster;
mod roles;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Origin(args) => {
            roles::run_role::<origin::OriginConfig, _, _>(origin::ROLE, &args, origin::run)
        }
        Command::Edge(args) => {
            roles::run_role::<edge::EdgeConfig, _, _>(edge::ROLE, &args, edge::run)
        }
        Command::ControlPlane(args) => roles::run_role::<control_plane::ControlPlaneConfig, _, _>(
            control_plane::ROLE,
            &args,
            control_plane::run,
        ),
        Command::ChatRelay(args) => roles::run_role::<chat_relay::ChatRelayConfig, _, _>(
            chat_relay::ROLE,
            &args,
            chat_relay::run,
        ),
        Command::Dev(args) => dev_cluster::run(&args),
        Command::CheckConfig(args) => roles::check_config(&args),
        Command::Certs(args) => roles::write_certs(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(roles::Failure::Config(error)) => {
            eprintln!("Invalid configuration: {error}");
            ExitCode::from(64)
        }
        Err(roles::Failure::Other(error)) => {
            eprintln!("livecdn: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
