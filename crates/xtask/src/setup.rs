use anyhow::Result;
use std::process::ExitCode;
#[derive(clap::Args)]
pub struct SetupArgs {}
pub fn run(_a: SetupArgs) -> Result<ExitCode> { todo!() }
