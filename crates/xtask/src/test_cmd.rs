use anyhow::Result;
use std::process::ExitCode;
#[derive(clap::Args)]
pub struct TestArgs {}
pub fn run(_a: TestArgs) -> Result<ExitCode> { todo!() }
