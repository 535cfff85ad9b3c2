//! How a failed run ends, in one place: the error for people on stderr and, with `--json`, the
//! same error for machines on stdout; a panic as an internal error with its location only.

use std::panic::Location;

use crate::app::error::Error;
use crate::core::exit::{ExitCode, Explained};

/// The `--json` form of a failure: `{"ok":false,"error":{"message","hint","exit_code"}}`.
pub fn json(e: &Error) -> serde_json::Value {
    serde_json::json!({
        "ok": false,
        "error": {
            "message": e.message(),
            "hint": e.hint(),
            "exit_code": e.exit_code() as u8,
        }
    })
}

/// Reports `e`: to stderr always, and as JSON on stdout when the command was run with `--json`.
pub fn report(e: &Error, json_output: bool) -> ExitCode {
    // Error messages quote file content and AWS answers: shown escaped, never obeyed.
    crate::say!("keyrite: error: {e}");
    // `audit verify` prints an outcome's error inside its JSON report, the one document on stdout.
    if json_output && !matches!(e, Error::CeremonyNotComplete { .. }) {
        println!("{}", json(e));
    }
    e.exit_code()
}

/// What a panic prints: that it is a bug, and where. Never the panic's message, which could
/// quote a value.
pub fn panic_text(location: Option<&Location<'_>>) -> String {
    let at = location.map_or_else(
        || "an unknown place".to_string(),
        |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
    );
    format!(
        "keyrite: internal error: please report it (a bug, panicked at {at}); nothing after this point was done\n  what to do: report the command, the keyrite version and this line; check the outputs it may have begun"
    )
}

/// Installs the hook that prints [`panic_text`] instead of the default panic message. The
/// terminal UI's own hook (installed later, by ratatui) restores the terminal first and then
/// calls this one.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("{}", panic_text(info.location()))
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_carries_message_hint_and_exit_code_apart() {
        let e = Error::PolicyDays;
        let v = json(&e);
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["message"], "--policy-days must be at least 1");
        assert_eq!(
            v["error"]["hint"],
            "give the longest a key's material may stay current, e.g. --policy-days 365"
        );
        assert_eq!(v["error"]["exit_code"], 2);
    }

    #[test]
    fn a_panic_says_internal_error_and_where_but_not_its_message() {
        let here = Location::caller();
        let text = panic_text(Some(here));
        assert!(
            text.starts_with("keyrite: internal error: please report"),
            "{text}"
        );
        assert!(
            text.contains(&format!("src/cli/failure.rs:{}", here.line())),
            "{text}"
        );
        assert!(panic_text(None).contains("an unknown place"));
    }
}
