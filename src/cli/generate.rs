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
#[command(after_help = "Example:\n  kfk man > kfk.1 && man -l kfk.1")]
pub struct ManArgs {}

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

/// The man page (roff).
pub fn man_page() -> Vec<u8> {
    let mut out = Vec::new();
    let rendered = clap_mangen::Man::new(super::command()).render(&mut out);
    debug_assert!(rendered.is_ok(), "rendering into memory cannot fail");
    out
}

pub fn completions(args: &CompletionsArgs) -> Result<(), CliError> {
    std::io::stdout()
        .lock()
        .write_all(&completion_script(args.shell))?;
    Ok(())
}

pub fn man(_args: &ManArgs) -> Result<(), CliError> {
    std::io::stdout().lock().write_all(&man_page())?;
    Ok(())
}
