//! The `cni-chaos` command: validate suite files, or run them (the same runner
//! as `cargo test --test chaos`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Chaos and resilience tests for Kubernetes clusters running Kube-OVN with Multus.
#[derive(Parser, Debug)]
#[command(name = "cni-chaos", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate suite files with exactly the loader the runner uses; exits
    /// non-zero and lists every problem (file:line:column, field, rule) on error.
    Validate {
        /// Suite files or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run scenarios: the same runner as `cargo test --test chaos`. Arguments
    /// after `--` are libtest's (`--list`, a filter, `--exact`, `--ignored`, ...).
    /// Suites default to ./suites and reports to ./reports (CHAOS_SUITES,
    /// CHAOS_REPORT_DIR override).
    Run {
        /// libtest arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { paths } => match cni_chaos::suite::load(&paths) {
            Ok(suites) => {
                let scenarios: usize = suites.iter().map(|s| s.scenarios.len()).sum();
                println!("ok: {} suites, {scenarios} scenarios", suites.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Run { args } => {
            let argv = std::iter::once("cni-chaos run".to_string()).chain(args);
            let args = libtest_mimic::Arguments::from_iter(argv);
            cni_chaos::run::main(
                args,
                cni_chaos::run::RunDefaults {
                    suites_dir: PathBuf::from("suites"),
                    report_dir: PathBuf::from("reports"),
                },
            )
        }
    }
}
