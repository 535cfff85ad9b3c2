//! Reports on stdout: a table for people, or JSON for machines.

/// A report for people (a table, on stdout) or, with `--json`, for machines (JSON on stdout, the
/// table then on stderr). The table holds strings from AWS: it goes through the sanitiser.
pub fn print_report<T: serde::Serialize>(table: &str, report: &T, json: bool) {
    let table = crate::core::terminal::for_terminal(table);
    if json {
        eprint!("{table}");
        println!("{}", serde_json::to_string(report).unwrap_or_default());
    } else {
        print!("{table}");
    }
}
