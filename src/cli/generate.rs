//! `kfk completions SHELL` and `kfk man`: generated from the clap definitions, the same text
//! that is committed under `completions/` and `man/`.

use super::CliError;
use clap::{Args, ValueEnum};
use std::io::Write;

/// Shells clap_complete can write completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  kfk completions bash > /etc/bash_completion.d/kfk")]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  kfk man > kfk.1 && man -l kfk.1\n  kfk man console-producer > kfk-console-producer.1\n  kfk man --dir /usr/local/share/man/man1"
)]
pub struct ManArgs {
    /// The subcommand whose page to print (e.g. console-producer, or "broker start");
    /// without it, the page of kfk itself.
    #[arg(num_args = 0.., value_name = "SUBCOMMAND")]
    pub subcommand: Vec<String>,
    /// Write every page (kfk.1, kfk-broker.1, kfk-broker-start.1, ...) into this directory.
    #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
    pub dir: Option<std::path::PathBuf>,
}

/// The completion script for `shell`.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut cmd = super::command();
    let mut out = Vec::new();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Elvish => clap_complete::Shell::Elvish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut cmd, "kfk", &mut out);
    out
}

impl Shell {
    pub const ALL: [Shell; 5] = [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::Powershell,
    ];

    /// The file the committed script lives in under `completions/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Shell::Bash => "kfk.bash",
            Shell::Zsh => "_kfk",
            Shell::Fish => "kfk.fish",
            Shell::Elvish => "kfk.elv",
            Shell::Powershell => "_kfk.ps1",
        }
    }
}

/// The man page of kfk itself (roff).
pub fn man_page() -> Vec<u8> {
    render(super::command())
}

fn render(cmd: clap::Command) -> Vec<u8> {
    let mut out = Vec::new();
    let rendered = clap_mangen::Man::new(cmd).render(&mut out);
    debug_assert!(rendered.is_ok(), "rendering into memory cannot fail");
    out
}

/// Every man page, `(file name, roff)`: `kfk.1`, then one page per subcommand at every
/// depth (`kfk-broker.1`, `kfk-broker-start.1`, `kfk-console-producer.1`, ...), each named as
/// the SEE ALSO section of its parent names it.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut pages = Vec::new();
    collect_pages(super::command(), &mut pages);
    pages
}

fn collect_pages(mut cmd: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
    // Built, so the implicit `help` subcommand the page lists has a page of its own.
    cmd.build();
    let name = cmd.get_name().to_string();
    let bin = cmd.get_bin_name().unwrap_or(&name).to_string();
    let start = pages.len();
    for sub in cmd.get_subcommands() {
        let page = format!("{name}-{}", sub.get_name());
        let invoked = format!("{bin} {}", sub.get_name());
        let sub = sub
            .clone()
            .name(page)
            .bin_name(invoked)
            .version(env!("CARGO_PKG_VERSION"));
        collect_pages(sub, pages);
    }
    pages.insert(start, (format!("{name}.1"), render(cmd)));
}

pub fn completions(args: &CompletionsArgs) -> Result<(), CliError> {
    std::io::stdout()
        .lock()
        .write_all(&completion_script(args.shell))?;
    Ok(())
}

pub fn man(args: &ManArgs) -> Result<(), CliError> {
    let pages = man_pages();
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::Failed(format!("--dir {}: {e}", dir.display())))?;
        for (file, roff) in &pages {
            std::fs::write(dir.join(file), roff)
                .map_err(|e| CliError::Failed(format!("--dir {}: {e}", dir.display())))?;
        }
        return Ok(());
    }
    let wanted = if args.subcommand.is_empty() {
        "kfk.1".to_string()
    } else {
        format!("kfk-{}.1", args.subcommand.join("-"))
    };
    let (_, roff) = pages.iter().find(|(f, _)| *f == wanted).ok_or_else(|| {
        CliError::Usage(format!(
            "kfk man: no page for '{}' (see kfk --help)",
            args.subcommand.join(" ")
        ))
    })?;
    std::io::stdout().lock().write_all(roff)?;
    Ok(())
}
