//! The command line itself. (Tests that run the server live in `integration-tests`; this file
//! also makes `cargo test --workspace` build the `rathaus` binary they start.)

use std::process::Command;

fn rathaus(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rathaus"))
        .args(args)
        .output()
        .expect("run rathaus");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (ok, out, _) = rathaus(&["--help"]);
    assert!(ok);
    for command in ["serve", "migrate", "check-config", "--config"] {
        assert!(out.contains(command), "help lacks {command}: {out}");
    }
}

#[test]
fn unknown_command_is_refused_with_a_hint() {
    let (ok, _, err) = rathaus(&["srve"]);
    assert!(!ok);
    assert!(err.contains("serve"), "{err}");
}
