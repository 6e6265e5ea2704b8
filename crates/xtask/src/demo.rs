use anyhow::Result;
use std::process::ExitCode;
#[derive(clap::Args)]
pub struct DemoArgs {}
pub fn run(_a: DemoArgs) -> Result<ExitCode> { todo!() }
