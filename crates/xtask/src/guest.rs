use anyhow::Result;
use std::process::ExitCode;
#[derive(clap::Args)]
pub struct GuestArgs {}
pub fn run(_a: GuestArgs) -> Result<ExitCode> { todo!() }
