//! The `wangge` command line (see [`wangge::cli`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(wangge::cli::run(std::env::args_os()))
}
