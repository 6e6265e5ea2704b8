//! Options every scheduler of the suite accepts, flattened into its own clap struct, and
//! [`parse`], the one call a scheduler's `main` makes to read its command line.

use std::ffi::{OsStr, OsString};
use std::marker::PhantomData;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Arg, Args, Command, Parser};

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
          allow_negative_numbers = true, value_parser = whole::<u32>(1024, 1 << 24))]
    pub exit_dump_len: u32,

    /// Watchdog timeout: a runnable task that waits longer ends the scheduler [default: the
    /// scheduler's own, else the kernel's 30000]
    #[arg(long, value_name = "MS", allow_negative_numbers = true, value_parser = whole::<u32>(1, 30000))]
    pub timeout_ms: Option<u32>,

    /// Print stats every SECS seconds (0.1 to 3600; 0, the default, prints none)
    #[arg(long = "stats", alias = "stats-interval", value_name = "SECS", default_value_t = 0.0,
          hide_default_value = true, allow_negative_numbers = true, value_parser = stats_secs())]
    pub stats: f64,

    /// Print each stats report as one JSON object on a line of its own (implies --stats 1
    /// unless --stats is given)
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
    /// The stats interval, or `None` when stats are off (the default): `--stats SECS`
    /// turns them on, and `--stats-json` alone prints them once a second.
    pub fn stats_period(&self) -> Option<Duration> {
        let secs = if self.stats == 0.0 && self.stats_json {
            1.0
        } else {
            self.stats
        };
        (secs > 0.0).then(|| Duration::from_secs_f64(secs))
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

/// Time slices, in microseconds, take the same range in every scheduler: 1 ms to 1 s.
pub fn slice_us() -> Whole<u64> {
    whole(1_000, 1_000_000)
}

/// The suite's short options: each letter means one thing, in every scheduler that
/// uses it (`-s` is always the time slice in µs). A scheduler's unit test checks its
/// options against this table with [`check_vocabulary`]; a new letter is added here
/// first, where a clash shows.
pub const VOCABULARY: &[(char, &str)] = &[
    ('h', "help"),
    ('V', "version"),
    ('v', "verbose"),
    ('p', "partial"),
    ('s', "slice-us"),
    ('f', "fifo"),
    ('b', "batch"),
    ('c', "central-cpu"),
    ('S', "stride"),
    ('i', "interval"),
    ('e', "error-after"),
    ('t', "stall-user-nth"),
    ('T', "stall-kernel-nth"),
    ('l', "dispatch-loop-after"),
    ('P', "print-shared-dsq"),
    ('H', "highpri-boost"),
    ('d', "disallow"),
    ('D', "dump-len"),
];

/// Checks `cmd`'s options against [`VOCABULARY`]: a short letter only for the long
/// option the table gives it, the table's letter on each option it names, and
/// `allow_negative_numbers` on every option that takes a value (so that `-S -2` is
/// refused with the option's range, not as an unknown argument).
pub fn check_vocabulary(cmd: &Command) -> Result<(), String> {
    let mut cmd = cmd.clone();
    cmd.build();
    for arg in cmd.get_arguments() {
        let long = arg.get_long().unwrap_or_default();
        let letter = VOCABULARY.iter().find(|(_, l)| *l == long).map(|(c, _)| *c);
        match (arg.get_short(), letter) {
            (Some(s), Some(c)) if s == c => {}
            (Some(s), _) => {
                let meaning = VOCABULARY.iter().find(|(c, _)| *c == s).map(|(_, l)| *l);
                return Err(match meaning {
                    Some(other) => format!("-{s} is --{other} in the suite, not --{long}"),
                    None => format!("-{s} (--{long}) is missing from cli::VOCABULARY"),
                });
            }
            (None, Some(c)) => return Err(format!("--{long} should have the short option -{c}")),
            (None, None) => {}
        }
        let takes_value = matches!(
            arg.get_action(),
            clap::ArgAction::Set | clap::ArgAction::Append
        );
        if takes_value && !arg.is_allow_negative_numbers_set() && long != "generate" {
            return Err(format!("--{long} lacks allow_negative_numbers"));
        }
    }
    Ok(())
}

/// The suite's schedulers, each with a line on when to use it.
pub const SUITE: &[(&str, &str)] = &[
    (
        "scx_simple",
        "one shared queue in weighted vtime or FIFO: the baseline, and the template",
    ),
    (
        "scx_qmap",
        "five weighted FIFOs and every sched_ext feature: a demo and test bed",
    ),
    (
        "scx_central",
        "one CPU decides for all: keeps the other CPUs free of scheduling work",
    ),
    (
        "scx_pair",
        "CPU pairs run one cgroup at a time: core scheduling as a policy",
    ),
    (
        "scx_flatcg",
        "cgroup weights flattened to one level: fair shares between cgroups",
    ),
    (
        "scx_userland",
        "decisions made by an ordinary process: a user-space scheduling demo",
    ),
];

/// The heading of the exit-status table in [`long_help`].
pub const EXIT_HEADING: &str = "Exit status:";

/// The text after a scheduler's `--help` options (and in its man page): requirements,
/// the `examples` (command line, what it does), the exit statuses and the suite.
/// Use as `#[command(after_long_help = scx_core::cli::long_help(&[...]))]`.
pub fn long_help(examples: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "Requirements:\n  root, or CAP_SYS_ADMIN and CAP_BPF; a kernel of 6.16 or newer built with \
         CONFIG_SCHED_CLASS_EXT (/sys/kernel/sched_ext exists)\n\nExamples:\n",
    );
    for (cmd, what) in examples {
        s.push_str(&format!("  {cmd}\n      {what}\n"));
    }
    s.push_str(&format!("\n{EXIT_HEADING}\n"));
    for (code, meaning) in generate::EXIT_STATUSES {
        s.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    s.push_str("\nThe suite:\n");
    for (name, what) in SUITE {
        s.push_str(&format!("  {name:<13} {what}\n"));
    }
    s
}

/// The option as the user may have typed it: `-S/--stride`, `--stats`.
fn option_name(arg: Option<&Arg>) -> String {
    let Some(arg) = arg else {
        return "the value".into();
    };
    match (arg.get_short(), arg.get_long()) {
        (Some(s), Some(l)) => format!("-{s}/--{l}"),
        (None, Some(l)) => format!("--{l}"),
        (Some(s), None) => format!("-{s}"),
        (None, None) => arg.get_id().to_string(),
    }
}

fn range_error(cmd: &Command, message: String) -> clap::Error {
    clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).with_cmd(cmd)
}

/// Parses a whole number from `lo` to `hi` (both included) into `T`; negative numbers
/// and decimals get the same one-sentence refusal. Set `allow_negative_numbers = true`
/// on the option, or clap takes `-2` for an unknown flag.
#[derive(Clone, Debug)]
pub struct Whole<T> {
    lo: i64,
    hi: i64,
    _t: PhantomData<fn() -> T>,
}

/// A [`Whole`] parser for the range `lo..=hi`.
pub fn whole<T>(lo: i64, hi: i64) -> Whole<T> {
    Whole {
        lo,
        hi,
        _t: PhantomData,
    }
}

impl<T> TypedValueParser for Whole<T>
where
    T: TryFrom<i64> + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(&self, cmd: &Command, arg: Option<&Arg>, value: &OsStr) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        text.trim()
            .parse::<i64>()
            .ok()
            .filter(|v| (self.lo..=self.hi).contains(v))
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| {
                range_error(
                    cmd,
                    format!(
                        "{} takes a whole number from {} to {}, not '{text}'",
                        option_name(arg),
                        self.lo,
                        self.hi
                    ),
                )
            })
    }
}

/// Parses a decimal number from `lo` to `hi`, or exactly 0 when `zero_means` names
/// what 0 does (`--stats 0` turns stats off).
#[derive(Clone, Debug)]
pub struct Decimal {
    lo: f64,
    hi: f64,
    unit: &'static str,
    zero_means: Option<&'static str>,
}

/// A [`Decimal`] parser for the range `lo..=hi` of `unit`s.
pub fn decimal(lo: f64, hi: f64, unit: &'static str) -> Decimal {
    Decimal {
        lo,
        hi,
        unit,
        zero_means: None,
    }
}

/// `--stats SECS`: 0.1 to 3600 seconds, or 0 for none.
pub fn stats_secs() -> Decimal {
    Decimal {
        zero_means: Some("no stats"),
        ..decimal(0.1, 3600.0, "seconds")
    }
}

impl TypedValueParser for Decimal {
    type Value = f64;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<f64, clap::Error> {
        let text = value.to_string_lossy();
        let ok =
            |v: &f64| (self.lo..=self.hi).contains(v) || (*v == 0.0 && self.zero_means.is_some());
        text.trim().parse::<f64>().ok().filter(ok).ok_or_else(|| {
            let zero = self
                .zero_means
                .map_or(String::new(), |z| format!(" (or 0 for {z})"));
            range_error(
                cmd,
                format!(
                    "{} takes a number of {} from {} to {}{zero}, not '{text}'",
                    option_name(arg),
                    self.unit,
                    self.lo,
                    self.hi
                ),
            )
        })
    }
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
        assert_eq!(c.stats_period(), None, "stats are quiet unless asked for");
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
    fn stats_are_off_unless_asked_for() {
        let period = |args: &[&str]| parse(args).unwrap().stats_period();
        assert_eq!(period(&["--stats", "0"]), None);
        assert_eq!(
            period(&["--stats", "0.5"]),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            period(&["--stats", "3600"]),
            Some(Duration::from_secs(3600))
        );
        // The old name still works, for unit files and defaults written for it.
        assert_eq!(
            period(&["--stats-interval", "2"]),
            Some(Duration::from_secs(2))
        );
        // --stats-json alone prints once a second; with --stats, at that interval.
        assert_eq!(period(&["--stats-json"]), Some(Duration::from_secs(1)));
        assert_eq!(
            period(&["--stats-json", "--stats", "5"]),
            Some(Duration::from_secs(5))
        );
        for bad in ["-1", "0.01", "0.09", "3601", "soon", "nan", "inf"] {
            let e = parse(&["--stats", bad]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert_eq!(
                e.to_string().trim_end(),
                format!("error: --stats takes a number of seconds from 0.1 to 3600 (or 0 for no stats), not '{bad}'")
            );
        }
    }

    #[test]
    fn range_errors_are_one_sentence_naming_option_and_range() {
        let e = parse(&["--timeout-ms", "-5"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        assert_eq!(
            e.to_string().trim_end(),
            "error: --timeout-ms takes a whole number from 1 to 30000, not '-5'"
        );
        let e = parse(&["--exit-dump-len=1.5"]).unwrap_err();
        assert_eq!(
            e.to_string().trim_end(),
            "error: --exit-dump-len takes a whole number from 1024 to 16777216, not '1.5'"
        );
    }

    #[test]
    fn common_options_follow_the_vocabulary() {
        check_vocabulary(&Opts::command()).unwrap();

        #[derive(Parser, Debug)]
        struct Clash {
            #[arg(short = 'S', long)]
            suppress_dump: bool,
        }
        assert_eq!(
            check_vocabulary(&Clash::command()).unwrap_err(),
            "-S is --stride in the suite, not --suppress-dump"
        );
        #[derive(Parser, Debug)]
        struct Negative {
            #[arg(short = 'b', long)]
            batch: u32,
        }
        assert_eq!(
            check_vocabulary(&Negative::command()).unwrap_err(),
            "--batch lacks allow_negative_numbers"
        );
    }

    #[test]
    fn long_help_has_requirements_examples_exit_statuses_and_the_suite() {
        let text = long_help(&[("scx_test --stats 1", "print stats every second")]);
        for want in [
            "CAP_SYS_ADMIN and CAP_BPF",
            "6.16",
            "scx_test --stats 1",
            EXIT_HEADING,
            "scx_userland",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        for code in [0, 2, 4, 5, 6, 69, 77] {
            assert!(text.contains(&format!("\n  {code:>3}  ")), "{code}: {text}");
        }
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
            help.contains("--stats <SECS>")
                && !help.contains("--stats-interval")
                && !help.contains("--generate"),
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
