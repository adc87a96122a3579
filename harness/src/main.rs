//! The `cni-chaos` command: validate suite files, run them (the same runner
//! as `cargo test --test chaos`), or serve the digital twin for kubectl.

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
    /// The digital twin.
    Twin {
        #[command(subcommand)]
        command: TwinCommand,
    },
}

#[derive(Subcommand, Debug)]
enum TwinCommand {
    /// Serve the twin's Kubernetes API on 127.0.0.1 (plain http) and write a
    /// kubeconfig for it; runs until Ctrl-C or SIGTERM. Prints
    /// `twin: serving http://127.0.0.1:PORT kubeconfig PATH`, then
    /// `export KUBECONFIG=PATH`.
    Serve {
        /// Seed for names and uids of the cluster snapshot.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Virtual seconds per wall-clock second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Kubeconfig to write [default: $CHAOS_REPORT_DIR/twin/kubeconfig,
        /// else reports/twin/kubeconfig].
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Virtual time at start (RFC 3339) [default: 2026-01-01T00:00:00Z].
        #[arg(long)]
        epoch: Option<jiff::Timestamp>,
    },
}

fn twin_serve(
    seed: u64,
    speed: f64,
    port: u16,
    kubeconfig: Option<PathBuf>,
    epoch: Option<jiff::Timestamp>,
) -> ExitCode {
    use cni_chaos_twin::serve::{ServeConfig, bind};
    let kubeconfig = kubeconfig.unwrap_or_else(|| {
        std::env::var_os("CHAOS_REPORT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("reports"))
            .join("twin")
            .join("kubeconfig")
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let config = ServeConfig {
            seed,
            speed,
            epoch: epoch.unwrap_or_else(cni_chaos_twin::clock::default_epoch),
            port,
            kubeconfig,
            cluster: Default::default(),
        };
        let bound = match bind(&config).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let path = std::path::absolute(&bound.kubeconfig).unwrap_or(bound.kubeconfig.clone());
        println!(
            "twin: serving http://{} kubeconfig {}",
            bound.addr,
            path.display()
        );
        println!("export KUBECONFIG={}", path.display());
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async {
                    match term.as_mut() {
                        Some(t) => { t.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
        };
        match bound.run(shutdown).await {
            Ok(()) => {
                eprintln!("twin: stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
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
        Command::Twin {
            command:
                TwinCommand::Serve {
                    seed,
                    speed,
                    port,
                    kubeconfig,
                    epoch,
                },
        } => twin_serve(seed, speed, port, kubeconfig, epoch),
    }
}
