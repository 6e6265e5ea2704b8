//! One logger for every scheduler: diagnostics to stderr, never to stdout, which carries
//! the stats. libbpf's own messages are routed through it by scx_utils'
//! `init_libbpf_logging`.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let prefix = match record.level() {
            Level::Error => "error: ",
            Level::Warn => "warning: ",
            Level::Info => "",
            Level::Debug | Level::Trace => "debug: ",
        };
        // libbpf ends its messages with a newline of its own.
        let msg = record.args().to_string();
        let _ = writeln!(std::io::stderr().lock(), "{prefix}{}", msg.trim_end());
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Sets up logging for `verbose` (the count of `-v`): 0 shows libbpf's warnings only,
/// 1 adds libbpf's info and debug output, 2 adds scx-core's own debug messages.
pub fn init(verbose: u8) {
    let level = if verbose == 0 {
        LevelFilter::Info
    } else {
        LevelFilter::Debug
    };
    // A second call (a restart) keeps the logger already set.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
    let libbpf_level = if verbose == 0 {
        libbpf_rs::PrintLevel::Warn
    } else {
        libbpf_rs::PrintLevel::Debug
    };
    scx_utils::init_libbpf_logging(Some(libbpf_level));
}
