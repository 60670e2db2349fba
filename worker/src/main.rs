//! The `kyuta-worker` binary: reads the configuration and runs the worker.

use std::process::ExitCode;

use kyuta_worker::config::{Config, Loaded};

fn main() -> ExitCode {
    let config = match Config::load_from(std::env::args_os()) {
        Ok(Loaded::Run(config)) => config,
        Ok(Loaded::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kyuta-worker: {e}");
            return ExitCode::from(2);
        }
    };
    kyuta_worker::run_blocking(*config)
}
