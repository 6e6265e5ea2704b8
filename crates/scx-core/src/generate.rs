//! Man pages and shell completions, generated from a binary's own clap definition.
//!
//! Every scheduler answers the hidden `--generate man|bash|zsh|fish` option (see
//! [`crate::cli::parse`]), so the pages and completions a package installs are rendered
//! from the options the binary really has and never drift from them. `meson install`
//! runs each binary this way; nothing is written into the source tree.

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Command, ValueEnum};
use clap_complete::Shell;

use crate::exit::status;

/// What `--generate` prints on stdout.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generate {
    /// The man page, in roff (section 8)
    Man,
    /// A bash completion script
    Bash,
    /// A zsh completion function
    Zsh,
    /// A fish completion script
    Fish,
}

/// The man section: schedulers are system administration commands, run as root.
const MAN_SECTION: &str = "8";

/// Each exit status with what it means, as in `docs/architecture.md`.
pub(crate) const EXIT_STATUSES: &[(u8, &str)] = &[
    (
        status::OK,
        "detached on request (SIGINT or SIGTERM), or unregistered without error",
    ),
    (
        status::FAILURE,
        "failed before the scheduler was attached: a bad option value, a load or verifier failure",
    ),
    (status::USAGE, "command-line usage error"),
    (
        status::UNREGISTERED,
        "unregistered by the kernel or by BPF with a non-zero code or without a restart \
request, or the loader gave up after more than 10 restarts in 10 s",
    ),
    (
        status::RUNTIME_ERROR,
        "SCX_EXIT_ERROR: a runtime error found by the kernel",
    ),
    (
        status::BPF_ERROR,
        "SCX_EXIT_ERROR_BPF: the scheduler called scx_bpf_error()",
    ),
    (
        status::STALL,
        "SCX_EXIT_ERROR_STALL: a runnable task did not run within the watchdog timeout",
    ),
    (
        status::OTHER_ERROR,
        "another error kind (reenqueue limit, rescue overload, kinds newer than the suite)",
    ),
    (
        status::UNAVAILABLE,
        "sched_ext is unavailable in this kernel, or another scheduler is active",
    ),
    (status::NOPERM, "not enough privilege (run as root)"),
];

/// Renders `kind` for `cmd` (the binary's full clap command) into `out`.
pub fn generate(kind: Generate, cmd: Command, out: &mut dyn Write) -> Result<()> {
    let text = match kind {
        Generate::Man => man_page(cmd)?,
        Generate::Bash => completion(Shell::Bash, cmd),
        Generate::Zsh => completion(Shell::Zsh, cmd),
        Generate::Fish => completion(Shell::Fish, cmd),
    };
    out.write_all(&text).context("failed to write to stdout")?;
    out.flush().context("failed to write to stdout")
}

/// clap_complete writes into a buffer first: it panics on a failed write, and a closed
/// pipe must not become a panic.
fn completion(shell: Shell, cmd: Command) -> Vec<u8> {
    let mut cmd = without_hidden_args(cmd);
    let name = cmd.get_name().to_string();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut buf);
    buf
}

/// The same command without its hidden options: clap_complete would offer them (this
/// very `--generate` among them), while `--help` and the man page leave them out.
fn without_hidden_args(cmd: Command) -> Command {
    let mut out = Command::new(cmd.get_name().to_string())
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(cmd.get_subcommands().cloned());
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    out
}

/// The man page: clap_mangen's sections, then the scheduler's long help (requirements,
/// examples, the suite) as sections of their own, EXIT STATUS and SEE ALSO, which say
/// what a service manager and an operator need to know. No date, so builds are
/// reproducible.
fn man_page(cmd: Command) -> Result<Vec<u8>> {
    let name = cmd.get_name().to_string();
    let extra = cmd
        .get_after_long_help()
        .or(cmd.get_after_help())
        .map(|t| t.to_string())
        .unwrap_or_default();
    let man = clap_mangen::Man::new(cmd);
    // The title line is written here: clap_mangen leaves an empty date out of `.TH`
    // altogether, which shifts the source and manual into the wrong fields.
    let mut buf = format!(
        ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.TH {} {MAN_SECTION} \"\" \"scx-suite {}\" \"System Manager's Manual\"\n",
        roff_text(&name),
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes();
    let render = |buf: &mut Vec<u8>| -> std::io::Result<()> {
        man.render_name_section(buf)?;
        man.render_synopsis_section(buf)?;
        man.render_description_section(buf)?;
        man.render_options_section(buf)?;
        buf.extend_from_slice(long_help_sections(&extra).as_bytes());
        buf.extend_from_slice(exit_status_section().as_bytes());
        buf.extend_from_slice(see_also_section(&name).as_bytes());
        man.render_version_section(buf)
    };
    render(&mut buf).context("failed to render the man page")?;
    Ok(buf)
}

/// The long help's blocks (`Heading:` then indented lines, blocks apart by a blank
/// line) as man sections: a line indented deeper than the one before it describes
/// that one (`.TP`), as in the examples; the exit-status block is left out, the page
/// has its own EXIT STATUS section. Text before any heading goes into NOTES.
fn long_help_sections(text: &str) -> String {
    let mut s = String::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut lines = block.lines().peekable();
        let first = lines.peek().copied().unwrap_or_default();
        let heading = match first.strip_suffix(':').filter(|h| !h.starts_with(' ')) {
            Some(h) => {
                lines.next();
                h.to_string()
            }
            None => "Notes".to_string(),
        };
        if first == crate::cli::EXIT_HEADING {
            continue;
        }
        s.push_str(&format!(".SH \"{}\"\n", roff_text(&heading.to_uppercase())));
        let lines: Vec<&str> = lines.collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        for (i, line) in lines.iter().enumerate() {
            let deeper_next = lines.get(i + 1).is_some_and(|n| indent(n) > indent(line));
            let deeper_than_prev = i > 0 && indent(line) > indent(lines[i - 1]);
            if deeper_next {
                s.push_str(&format!(".TP\n\\fB{}\\fR\n", roff_text(line.trim())));
            } else if deeper_than_prev {
                s.push_str(&format!("{}\n", roff_text(line.trim())));
            } else {
                s.push_str(&format!(".PP\n{}\n", roff_text(line.trim())));
            }
        }
    }
    s
}

/// Escapes text for a roff line: backslashes and hyphens, and a leading control character.
fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}

fn exit_status_section() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in EXIT_STATUSES {
        s.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff_text(meaning)));
    }
    s.push_str(".PP\n");
    s.push_str(&roff_text(
        "A service manager can restart the scheduler on failure but not on 2, 69 or 77: \
         scx.service says Restart=on-failure with RestartPreventExitStatus=2 69 77.",
    ));
    s.push('\n');
    s
}

fn see_also_section(name: &str) -> String {
    format!(
        ".SH \"SEE ALSO\"\n{}\n",
        roff_text(&format!(
            "scx.service and /etc/default/scx (which scheduler the service runs, and its flags); \
             the suite's README.md and docs/packaging.md; the policy of {name} is described at the \
             top of its src/bpf/main.bpf.c; the kernel's Documentation/scheduler/sched-ext.rst."
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    use crate::cli::CommonOpts;

    /// A scheduler's options, as the schedulers of the suite declare them.
    #[derive(Parser, Debug)]
    #[command(name = "scx_test", version = "0.0.0 (test)")]
    struct Opts {
        /// Time slice in microseconds
        #[arg(short, long, default_value_t = 20_000)]
        slice_us: u64,

        #[command(flatten)]
        common: CommonOpts,
    }

    fn render(kind: Generate) -> String {
        let mut out = Vec::new();
        generate(kind, Opts::command(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Status 3 also ends a restart loop; the text must say so with the loop's limits.
    #[test]
    fn status_3_names_the_restart_give_up() {
        use crate::runner::{MAX_RESTARTS, RESTART_WINDOW};
        let (_, text) = EXIT_STATUSES
            .iter()
            .find(|(code, _)| *code == status::UNREGISTERED)
            .unwrap();
        let limit = format!(
            "more than {MAX_RESTARTS} restarts in {} s",
            RESTART_WINDOW.as_secs()
        );
        assert!(text.contains(&limit), "{text}");
    }

    #[test]
    fn man_page_mentions_the_options_and_exit_statuses() {
        let man = render(Generate::Man);
        assert!(man.contains(".TH scx_test 8 \"\" \"scx-suite "), "{man}");
        for opt in [
            "slice\\-us",
            "exit\\-dump\\-len",
            "timeout\\-ms",
            "\\-\\-stats ",
            "partial",
            "verbose",
        ] {
            assert!(man.contains(opt), "the man page does not mention {opt}");
        }
        assert!(man.contains("Time slice in microseconds"));
        assert!(
            man.contains("EXIT STATUS") && man.contains("\\fB69\\fR") && man.contains("\\fB77\\fR")
        );
        assert!(
            !man.contains("\\-\\-generate"),
            "the hidden --generate leaked into the man page"
        );
    }

    #[test]
    fn man_page_turns_the_long_help_into_sections() {
        let cmd = Opts::command().after_long_help(crate::cli::long_help(&[(
            "scx_test -s 5000",
            "5 ms slices",
        )]));
        let mut out = Vec::new();
        generate(Generate::Man, cmd, &mut out).unwrap();
        let man = String::from_utf8(out).unwrap();
        for heading in [
            "REQUIREMENTS",
            "EXAMPLES",
            "THE SUITE",
            "EXIT STATUS",
            "SEE ALSO",
        ] {
            assert!(
                man.contains(&format!(".SH \"{heading}\"")),
                "no {heading}: {man}"
            );
        }
        assert_eq!(man.matches("EXIT STATUS").count(), 1, "{man}");
        assert!(!man.contains("EXTRA"), "{man}");
        assert!(
            man.contains(".TP\n\\fBscx_test \\-s 5000\\fR\n5 ms slices\n"),
            "{man}"
        );
    }

    #[test]
    fn completions_for_each_shell_name_the_binary_and_its_options() {
        for kind in [Generate::Bash, Generate::Zsh, Generate::Fish] {
            let text = render(kind);
            assert!(!text.trim().is_empty(), "{kind:?}");
            assert!(text.contains("scx_test"), "{kind:?}");
            assert!(
                text.contains("slice-us") && text.contains("stats-json"),
                "{kind:?}"
            );
            assert!(
                !text.contains("--generate"),
                "{kind:?}: the hidden --generate leaked"
            );
        }
    }

    #[test]
    fn roff_text_escapes_what_roff_would_interpret() {
        assert_eq!(roff_text("a-b"), "a\\-b");
        assert_eq!(roff_text(".x"), "\\&.x");
        assert_eq!(roff_text("a\\b"), "a\\eb");
    }
}
