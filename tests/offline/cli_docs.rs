//! Shell completions and manual pages come from the clap definitions of the build that prints
//! them: every visible command has a page and is named by its parent's page; the completions
//! name the commands. In the air-gap build the KMS commands are absent everywhere.

use std::path::Path;

use assert_cmd::Command;
use clap::CommandFactory;
use keyrite::cli::Cli;

fn keyrite() -> Command {
    Command::cargo_bin("keyrite").unwrap()
}

/// (page file name, visible subcommand names) of every visible command, depth first.
fn expected_pages() -> Vec<(String, Vec<String>)> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, Vec<String>)>) {
        let name = if prefix.is_empty() {
            cmd.get_name().to_string()
        } else {
            format!("{prefix}-{}", cmd.get_name())
        };
        let subs: Vec<&clap::Command> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .collect();
        out.push((
            format!("{name}.1"),
            subs.iter().map(|s| s.get_name().to_string()).collect(),
        ));
        for s in subs {
            walk(s, &name, out);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), "", &mut out);
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_manual_has_a_page_per_command_and_each_page_names_its_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    keyrite()
        .args(["man", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let expected = expected_pages();
    let mut written: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut names: Vec<String> = expected.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(written, names);
    assert!(written.contains(&"keyrite-audit-verify.1".to_string()));
    for (page, subs) in &expected {
        let text = read(&dir.path().join(page));
        assert!(text.starts_with(".ie"), "{page} is not roff: {text:.80}");
        // Every page documents the exit codes.
        assert!(
            text.contains(".SH \"EXIT STATUS\""),
            "{page} has no EXIT STATUS"
        );
        for code in keyrite::ExitCode::ALL {
            assert!(
                text.contains(&format!(".TP\n\\fB{}\\fR\n", code as u8)),
                "{page} lacks exit code {}",
                code as u8
            );
        }
        for s in subs {
            // roff writes a hyphen in a name as \-.
            let roff = s.replace('-', "\\-");
            assert!(
                text.contains(s.as_str()) || text.contains(&roff),
                "{page} does not mention {s}"
            );
        }
    }
    // Without --out, the top page goes to stdout.
    let out = keyrite().arg("man").assert().success().get_output().clone();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        read(&dir.path().join("keyrite.1"))
    );
    // No page is ever overwritten.
    keyrite()
        .args(["man", "--out"])
        .arg(dir.path())
        .assert()
        .code(5);
}

#[test]
fn bash_completions_name_every_command() {
    let out = keyrite()
        .args(["completions", "bash"])
        .assert()
        .success()
        .get_output()
        .clone();
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("complete -F"), "{script:.200}");
    for (_, subs) in expected_pages() {
        for s in subs {
            assert!(script.contains(&s), "completions lack {s}");
        }
    }
    #[cfg(feature = "airgap")]
    assert!(script.contains("ceremony"));
    #[cfg(feature = "connected")]
    assert!(script.contains("RSAES_OAEP_SHA_256"), "algorithm values");
}

#[cfg(not(feature = "connected"))]
#[test]
fn the_air_gap_build_has_no_kms_commands() {
    let out = keyrite()
        .args(["kms", "status"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unrecognized subcommand"), "{err}");
    let help = keyrite()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .clone();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("ceremony") && help.contains("audit"),
        "{help}"
    );
    assert!(
        !help.contains("kms") && !help.contains("rehearse"),
        "{help}"
    );
}

#[test]
fn help_lists_completions_and_man_and_describes_every_json_flag() {
    let help = keyrite()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(help).unwrap();
    assert!(
        help.contains("completions") && help.contains("man"),
        "{help}"
    );
    // Every command with --json says what it prints.
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            if a.get_long() == Some("json") && a.get_help().is_none() {
                missing.push(path.to_string());
            }
        }
        for s in cmd.get_subcommands() {
            walk(s, &format!("{path} {}", s.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&Cli::command(), "keyrite", &mut missing);
    assert!(missing.is_empty(), "--json without help: {missing:?}");
}
