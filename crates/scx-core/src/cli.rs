//! Options every scheduler of the suite accepts, flattened into its own clap struct.

use std::time::Duration;

use clap::Args;

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
}

impl CommonOpts {
    /// The stats interval, or `None` when stats are off.
    pub fn stats_period(&self) -> Option<Duration> {
        (self.stats_interval > 0.0).then(|| Duration::from_secs_f64(self.stats_interval))
    }
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(0.0..=3600.0).contains(&v) {
        return Err(format!("{v} is outside 0 to 3600 seconds"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Opts {
        #[command(flatten)]
        common: CommonOpts,
    }

    fn parse(args: &[&str]) -> Result<CommonOpts, clap::Error> {
        Opts::try_parse_from(std::iter::once("scx_test").chain(args.iter().copied())).map(|o| o.common)
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
        assert_eq!(parse(&["--timeout-ms", "30000"]).unwrap().timeout_ms, Some(30000));
        assert_eq!(parse(&["--timeout-ms", "1"]).unwrap().timeout_ms, Some(1));
        for bad in ["0", "30001", "-5", "abc"] {
            assert!(parse(&["--timeout-ms", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn stats_interval_zero_turns_stats_off() {
        assert_eq!(parse(&["--stats-interval", "0"]).unwrap().stats_period(), None);
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
        assert_eq!(parse(&["--exit-dump-len", "65536"]).unwrap().exit_dump_len, 65536);
    }

    #[test]
    fn verbose_counts_and_partial_has_a_short_flag() {
        let c = parse(&["-vv", "-p", "--stats-json"]).unwrap();
        assert_eq!(c.verbose, 2);
        assert!(c.partial && c.stats_json);
    }
}
