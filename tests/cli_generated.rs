//! The shell completions in `completions/` and the man page in `man/` are generated from the
//! clap definitions; this test fails when they are stale (regenerate with
//! `KFK_UPDATE_GENERATED=1 cargo test --test cli_generated`), and checks that they load.

mod common;

use kfk::cli::generate::{completion_script, man_page, Shell};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check_or_update(path: &Path, generated: &[u8]) {
    if std::env::var("KFK_UPDATE_GENERATED").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, generated).unwrap();
        return;
    }
    let committed = std::fs::read(path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run KFK_UPDATE_GENERATED=1 cargo test --test cli_generated",
        path.display()
    );
}

#[test]
fn committed_completions_and_man_page_match_the_clap_definitions() {
    for shell in Shell::ALL {
        check_or_update(
            &root().join("completions").join(shell.file_name()),
            &completion_script(shell),
        );
    }
    check_or_update(&root().join("man/kfk.1"), &man_page());
}

#[test]
fn bash_completions_load_and_complete_subcommands() {
    let script = root().join("completions/kfk.bash");
    let out = Command::new("bash")
        .args(["-c", &format!("source {} && COMP_WORDS=(kfk con) COMP_CWORD=1 && _kfk kfk con kfk && printf '%s\\n' \"${{COMPREPLY[@]}}\"", script.display())])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        words.contains("console-producer") && words.contains("console-consumer"),
        "{words}"
    );
}

#[test]
fn zsh_completions_load() {
    let Some(zsh) = common::require_tool("zsh_completions_load", "zsh") else {
        return;
    };
    let dir = root().join("completions");
    let out = Command::new(zsh).args(["-f", "-c", &format!("fpath=({} $fpath); autoload -Uz compinit && compinit -u && autoload -Uz _kfk && echo ok", dir.display())]).output().expect("zsh");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_man_page_renders() {
    let Some(man) = common::require_tool("the_man_page_renders", "man") else {
        return;
    };
    let out = Command::new(man)
        .args(["-l", root().join("man/kfk.1").to_str().unwrap()])
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("man");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("kfk") && text.contains("console-producer"),
        "{text}"
    );
}

#[test]
fn every_flag_has_help_text_and_every_tool_an_example() {
    let cmd = kfk::cli::command();
    for sub in cmd.get_subcommands() {
        let name = sub.get_name();
        for arg in sub.get_arguments() {
            if arg.is_hide_set() {
                continue;
            }
            assert!(
                arg.get_help().is_some(),
                "kfk {name}: --{} has no help text",
                arg.get_id()
            );
        }
        if !["completions", "man", "broker"].contains(&name) {
            let after = sub
                .get_after_help()
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert!(after.contains("kfk "), "kfk {name} --help shows no example");
        }
    }
}
