//! Options every scheduler of the suite accepts, flattened into its own clap struct, and
//! [`parse`], the one call a scheduler's `main` makes to read its command line.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, Parser};

use crate::generate::{self, Generate};

/// The default size of the exit dump buffer, as the kernel's own default.
pub const DEFAULT_EXIT_DUMP_LEN: u32 = 32768;

/// Options shared by every scheduler. Flatten with `#[command(flatten)]`.
#[derive(Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "Common options")]
pub struct CommonOpts {
    /// Print libbpf's debug output (-v) and scx-core's debug messages (-vv)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Size in bytes of the debug dump kept when the scheduler exits with an error
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_EXIT_DUMP_LEN,
          value_parser = clap::value_parser!(u32).range(1024..=(1 << 24)))]
    pub exit_dump_len: u32,

    /// Watchdog timeout: a runnable task that waits longer ends the scheduler [default: kernel's, 30000]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=30000))]
    pub timeout_ms: Option<u32>,

    /// Seconds between two stats reports; 0 turns them off
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_interval)]
    pub stats_interval: f64,

    /// Print each stats report as one JSON object on a line of its own
    #[arg(long)]
    pub stats_json: bool,

    /// Schedule only the tasks set to SCHED_EXT, leaving the others to the default scheduler
    #[arg(short = 'p', long)]
    pub partial: bool,

    /// Print this binary's man page or a shell completion script, then exit (for packagers)
    #[arg(long, value_name = "KIND", value_enum, hide = true)]
    pub generate: Option<Generate>,
}

impl CommonOpts {
    /// The stats interval, or `None` when stats are off.
    pub fn stats_period(&self) -> Option<Duration> {
        (self.stats_interval > 0.0).then(|| Duration::from_secs_f64(self.stats_interval))
    }
}

/// Parses the process's command line into a scheduler's options: `let opts: Opts =
/// scx_core::cli::parse();` at the top of `main`.
///
/// `--generate man|bash|zsh|fish` (hidden from `--help`) prints the man page or the
/// completion script rendered from `O`'s own definition and exits 0, before any check of
/// the kernel or of privileges, so a packager's build host needs neither. `--help`,
/// `--version` and usage errors behave as clap's `Parser::parse` (a usage error exits 2).
pub fn parse<O: Parser>() -> O {
    match parse_from(std::env::args_os()) {
        Ok(Parsed::Opts(opts)) => opts,
        Ok(Parsed::Generate(kind)) => {
            let mut out = std::io::stdout().lock();
            match generate::generate(kind, O::command(), &mut out) {
                Ok(()) => std::process::exit(0),
                Err(e) => {
                    crate::logging::init(0);
                    log::error!("{e:#}");
                    std::process::exit(crate::exit::status::FAILURE.into())
                }
            }
        }
        Err(e) => e.exit(),
    }
}

/// What a command line asks for: the scheduler with these options, or a generated file.
#[derive(Debug)]
pub enum Parsed<O> {
    Opts(O),
    Generate(Generate),
}

/// [`parse`] without the printing and exiting, for tests.
pub fn parse_from<O, I, T>(args: I) -> Result<Parsed<O>, clap::Error>
where
    O: Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut matches = O::command().try_get_matches_from(args)?;
    if let Some(kind) = matches.get_one::<Generate>("generate") {
        return Ok(Parsed::Generate(*kind));
    }
    O::from_arg_matches_mut(&mut matches)
        .map(Parsed::Opts)
        .map_err(|e| e.format(&mut O::command()))
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(0.0..=3600.0).contains(&v) {
        return Err(format!("{v} is outside 0 to 3600 seconds"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(Parser, Debug)]
    struct Opts {
        #[command(flatten)]
        common: CommonOpts,
    }

    fn parse(args: &[&str]) -> Result<CommonOpts, clap::Error> {
        Opts::try_parse_from(std::iter::once("scx_test").chain(args.iter().copied()))
            .map(|o| o.common)
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.verbose, 0);
        assert_eq!(c.exit_dump_len, DEFAULT_EXIT_DUMP_LEN);
        assert_eq!(c.timeout_ms, None);
        assert_eq!(c.stats_period(), Some(Duration::from_secs(1)));
        assert!(!c.partial && !c.stats_json);
    }

    #[test]
    fn timeout_is_checked_before_loading() {
        assert_eq!(
            parse(&["--timeout-ms", "30000"]).unwrap().timeout_ms,
            Some(30000)
        );
        assert_eq!(parse(&["--timeout-ms", "1"]).unwrap().timeout_ms, Some(1));
        for bad in ["0", "30001", "-5", "abc"] {
            assert!(parse(&["--timeout-ms", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn stats_interval_zero_turns_stats_off() {
        assert_eq!(
            parse(&["--stats-interval", "0"]).unwrap().stats_period(),
            None
        );
        assert_eq!(
            parse(&["--stats-interval", "0.5"]).unwrap().stats_period(),
            Some(Duration::from_millis(500))
        );
        assert!(parse(&["--stats-interval", "-1"]).is_err());
        assert!(parse(&["--stats-interval", "soon"]).is_err());
    }

    #[test]
    fn exit_dump_len_bounds() {
        assert!(parse(&["--exit-dump-len", "10"]).is_err());
        assert_eq!(
            parse(&["--exit-dump-len", "65536"]).unwrap().exit_dump_len,
            65536
        );
    }

    #[test]
    fn generate_is_recognised_and_hidden_from_help() {
        for (arg, want) in [
            ("man", Generate::Man),
            ("bash", Generate::Bash),
            ("zsh", Generate::Zsh),
            ("fish", Generate::Fish),
        ] {
            match parse_from::<Opts, _, _>(["scx_test", "--generate", arg]) {
                Ok(Parsed::Generate(kind)) => assert_eq!(kind, want),
                other => panic!("--generate {arg}: {other:?}"),
            }
        }
        // The other options are still checked, and --generate needs a known kind.
        assert!(
            parse_from::<Opts, _, _>(["scx_test", "--generate", "man", "--timeout-ms", "0"])
                .is_err()
        );
        assert!(parse_from::<Opts, _, _>(["scx_test", "--generate", "html"]).is_err());
        assert!(parse_from::<Opts, _, _>(["scx_test", "--generate"]).is_err());

        let help = Opts::command().render_long_help().to_string();
        assert!(
            help.contains("--stats-interval") && !help.contains("--generate"),
            "{help}"
        );
    }

    #[test]
    fn parse_from_returns_the_options_otherwise() {
        match parse_from::<Opts, _, _>(["scx_test", "-vv", "--timeout-ms", "500"]) {
            Ok(Parsed::Opts(o)) => {
                assert_eq!(o.common.verbose, 2);
                assert_eq!(o.common.timeout_ms, Some(500));
                assert_eq!(o.common.generate, None);
            }
            other => panic!("{other:?}"),
        }
        let e = parse_from::<Opts, _, _>(["scx_test", "--bogus"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn verbose_counts_and_partial_has_a_short_flag() {
        let c = parse(&["-vv", "-p", "--stats-json"]).unwrap();
        assert_eq!(c.verbose, 2);
        assert!(c.partial && c.stats_json);
    }
}
