//! `keyrite ceremony --plain`: the ceremony line by line, for a console where a full-screen app
//! does not work (a serial console, a screen reader). The same questions, in the same order
//! ([`questions`]), with the same checks and messages as the full-screen app: the preflight has
//! passed before the first question; then (for an interrupted ceremony) finish or abort, the
//! operator and the witness, the key review (every key's alias, account, region, ARN and wrapping
//! key SHA-256, approved by the witness), the bundle fingerprint as read out from the connected
//! side (keyrite never prints it before it is typed) and its PGP words for reading back, each
//! custodian's name and share (checked against the roster as it is entered; a share is read
//! without echo), and an explicit confirmation. Only then does [`perform`] touch the HSM.
//!
//! A refused entry is named and asked again, nothing else lost. End of input (Ctrl-D) at any
//! question leaves with nothing touched (exit 2). Every string that comes from the script, the
//! bundle or the roster goes through the terminal sanitiser.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;

use zeroize::Zeroizing;

use crate::app::ceremony::CeremonyReport;
use crate::app::ceremony::preflight::Preflight;
use crate::app::ceremony::progress::{KeyStep, Progress, ProgressSink};
use crate::app::ceremony::start::{CeremonyInputs, perform};
use crate::app::error::{Error, Result};
use crate::core::ceremony::ResumeChoice;
use crate::core::ceremony::questions::{Question, fingerprint_problem, questions};
use crate::core::custody::shares::looks_like_share;
use crate::core::custody::{QuorumMode, RosterFile};
use crate::core::digest::{normalise_fingerprint, word_lines};
use crate::core::manifest::{self, Manifest};
use crate::core::person::LOOKED_LIKE_SHARE;
use crate::core::script::{Answers, CustodianAnswer, Script, TypedShare};
use crate::core::terminal::for_terminal;
use crate::tui::model::SHARE_CAPACITY;

/// Where the answers come from: a line at a time, and a share without echo.
pub trait Console {
    /// The next line without its line end; `None` at the end of input.
    fn line(&mut self) -> Result<Option<String>>;
    /// The next line, not echoed, in a zeroizing buffer; `None` at the end of input.
    fn secret(&mut self) -> Result<Option<Zeroizing<String>>>;
    /// Whether a line typed (not a secret) is echoed, ending the question's line.
    fn echoes(&self) -> bool;
}

/// The process's standard input. Lines are read from it unbuffered (a byte at a time from a
/// duplicate of its descriptor), so that no buffer outside this module ever holds a share and
/// nothing typed ahead is swallowed.
///
/// A share: when standard input is a terminal, `rpassword` reads it from the terminal (/dev/tty)
/// with echo off. When standard input is not a terminal (a pipe: the whole-binary tests, a
/// scripted run), there is no echo to turn off and the line is read from standard input, into a
/// zeroizing buffer sized once.
pub struct StdConsole {
    input: File,
    terminal: bool,
}

impl StdConsole {
    pub fn new() -> Result<StdConsole> {
        let stdin = std::io::stdin();
        let terminal = stdin.is_terminal();
        let fd = stdin
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| input_error(&e))?;
        Ok(StdConsole {
            input: File::from(fd),
            terminal,
        })
    }

    /// Reads one line into `buf` (without the line end), never beyond `limit` bytes: what is
    /// typed past the limit is read and dropped, and the line reported as too long. `None` at the
    /// end of input with nothing read.
    fn read_line_into(&mut self, buf: &mut Vec<u8>, limit: usize) -> Result<Option<bool>> {
        let mut byte = [0u8; 1];
        let mut any = false;
        let mut too_long = false;
        loop {
            let n = match self.input.read(&mut byte) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(input_error(&e)),
            };
            if n == 0 {
                return Ok(any.then_some(too_long));
            }
            any = true;
            match byte[0] {
                b'\n' => return Ok(Some(too_long)),
                b'\r' => {}
                b if buf.len() < limit => buf.push(b),
                _ => too_long = true,
            }
        }
    }
}

fn input_error(e: &std::io::Error) -> Error {
    Error::Terminal {
        detail: format!("reading the answers: {e}"),
    }
}

/// The longest line a name or a fingerprint may be.
const LINE_LIMIT: usize = 4096;

impl Console for StdConsole {
    fn echoes(&self) -> bool {
        self.terminal
    }

    fn line(&mut self) -> Result<Option<String>> {
        let mut buf = Vec::new();
        Ok(self
            .read_line_into(&mut buf, LINE_LIMIT)?
            .map(|_| String::from_utf8_lossy(&buf).into_owned()))
    }

    fn secret(&mut self) -> Result<Option<Zeroizing<String>>> {
        if self.terminal {
            return match rpassword::read_password() {
                Ok(text) => Ok(Some(Zeroizing::new(text))),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
                Err(e) => Err(input_error(&e)),
            };
        }
        // Sized once, never grown: a reallocation would leave a copy behind.
        let mut buf = Zeroizing::new(Vec::with_capacity(SHARE_CAPACITY));
        let Some(too_long) = self.read_line_into(&mut buf, SHARE_CAPACITY)? else {
            return Ok(None);
        };
        if too_long || std::str::from_utf8(&buf).is_err() {
            // Not a share: read as an empty answer, which is asked again.
            return Ok(Some(Zeroizing::new(String::new())));
        }
        // The same allocation moves into the string: no copy.
        let bytes = std::mem::take(&mut *buf);
        Ok(Some(Zeroizing::new(
            String::from_utf8(bytes).unwrap_or_default(),
        )))
    }
}

/// Prints a question (sanitised) and waits for the answer on the same line.
fn ask(question: &str) {
    let mut err = std::io::stderr();
    let _ = write!(err, "{}", for_terminal(question));
    let _ = err.flush();
}

/// Ends the question's line when the answer was not echoed there: a terminal echoes the typed
/// line (not a share), a pipe echoes nothing.
fn end_line(echoed: bool) {
    if !echoed {
        eprintln!();
    }
}

/// The answer to a question, or leaving (end of input) with nothing touched.
fn answer(c: &mut dyn Console, question: &str) -> Result<String> {
    ask(question);
    let line = c.line()?.ok_or(Error::LeftBeforeConfirmed)?;
    end_line(c.echoes());
    Ok(line.trim().to_string())
}

/// A person's name (operator, witness, custodian): asked again while what was typed looks like a
/// share, which is wiped, erased from the screen where the terminal echoed it, and never shown
/// or kept.
fn name_answer(c: &mut dyn Console, question: &str) -> Result<String> {
    loop {
        ask(question);
        let mut line = Zeroizing::new(c.line()?.ok_or(Error::LeftBeforeConfirmed)?);
        end_line(c.echoes());
        if looks_like_share(&line) {
            if c.echoes() {
                erase_echo(question, line.chars().count());
            }
            zeroize::Zeroize::zeroize(&mut *line);
            crate::say!("  {LOOKED_LIKE_SHARE}");
            continue;
        }
        return Ok(line.trim().to_string());
    }
}

/// Erases the question and the line the terminal echoed after it: up as many rows as they took
/// (the cursor is at the start of the row below), then clears to the end of the screen. Those
/// rows are still on screen, so they never reach the scrollback. A line that exactly fills its
/// rows may have taken one row more (a terminal may wrap before it sees the newline; tmux does,
/// depending on how its input arrives): one more row is erased then, at worst a line of the
/// question's context above it, never less than the echoed share.
fn erase_echo(question: &str, answer: usize) {
    let width = ratatui::crossterm::terminal::size()
        .map(|(w, _)| usize::from(w.max(1)))
        .unwrap_or(80);
    let rows = echo_rows(question.chars().count() + answer, width);
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\x1b[{rows}A\x1b[J");
    let _ = err.flush();
}

/// The rows to go up to erase `chars` echoed characters and the newline after them.
fn echo_rows(chars: usize, width: usize) -> usize {
    chars / width.max(1) + 1
}

fn keys_counted(n: usize) -> String {
    crate::tui::view::counted(n, "key")
}

/// A yes-or-no question: y or yes goes on, n or no says no; an empty answer (a stray Enter) is
/// asked again; the end of input leaves with nothing touched.
fn yes(c: &mut dyn Console, question: &str) -> Result<bool> {
    loop {
        match answer(c, question)?.to_lowercase().as_str() {
            "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            "" => crate::say!("  type y or n"),
            _ => crate::say!("  type y or n (Ctrl-D leaves, nothing touched)"),
        }
    }
}

/// What the line mode needs besides the console: the inputs and the preflight's findings.
pub struct Plain<'a> {
    pub inputs: &'a CeremonyInputs,
    pub checked: &'a Preflight,
}

/// The ceremony in line mode at this process's standard input. After the preflight.
pub fn run(inputs: &CeremonyInputs, checked: &Preflight) -> Result<CeremonyReport> {
    let mut console = StdConsole::new()?;
    let plain = Plain { inputs, checked };
    let answers = plain.ask_all(&mut console)?;
    crate::say!(
        "\n[{}] the HSM work: generating and wrapping {} on token {:?}",
        plain.questions().len() + 1,
        keys_counted(inputs.script.keys.len()),
        inputs.uri.token
    );
    let keys = inputs.script.keys.len();
    let progress = move |p: Progress| progress_line(&p, keys);
    let report = perform(inputs, checked, &answers, ProgressSink::to(&progress))?;
    drop(answers);
    Ok(report)
}

/// One line for each thing the HSM work did, as it happens.
fn progress_line(p: &Progress, keys: usize) {
    match p {
        Progress::QuorumMet {
            names,
            custodians_total,
            mode,
        } => crate::say!(
            "  quorum met: {} of {custodians_total} ({mode}); the HSM is open",
            names.join(", ")
        ),
        Progress::Probed { result } => crate::say!("  capability probe: {result}"),
        Progress::Key { index, key, step } => crate::say!(
            "  key {} of {keys}, {key}: {} (step {} of {})",
            index + 1,
            step.describe(),
            step.position(),
            KeyStep::COUNT
        ),
        Progress::Finished { keys } => {
            crate::say!(
                "  the manifest is replaced and the log closed: {} done",
                keys_counted(*keys)
            )
        }
    }
}

impl Plain<'_> {
    fn script(&self) -> &Script {
        &self.inputs.script
    }

    /// The ceremony's questions, in the order every driver asks them.
    fn questions(&self) -> Vec<Question> {
        questions(
            self.checked.interrupted.is_some(),
            self.checked.roster.is_some(),
        )
    }

    /// A question's heading: its number in the ceremony and what it is about.
    fn heading(&self, q: Question, more: &str) {
        let n = self
            .questions()
            .iter()
            .position(|x| *x == q)
            .map_or(0, |i| i + 1);
        crate::say!("\n[{n}] {}{more}", q.title());
    }

    /// Every question, in the order of [`questions`]; the answers as a headless run reads them
    /// from its file.
    pub fn ask_all(&self, c: &mut dyn Console) -> Result<Answers> {
        self.introduce();
        let mut answers = Answers {
            operator: String::new(),
            witness: None,
            bundle_fingerprint: String::new(),
            custodians: Vec::new(),
            resume: None,
        };
        for q in self.questions() {
            match q {
                Question::Resume => answers.resume = self.resume(c)?,
                Question::People => {
                    (answers.operator, answers.witness) = self.people(c)?;
                }
                Question::Keys => self.keys(c)?,
                Question::Fingerprint => answers.bundle_fingerprint = self.fingerprint(c)?,
                Question::Custodians => {
                    if let Some(r) = &self.checked.roster {
                        answers.custodians = self.custodians(c, &r.file)?;
                    }
                }
                Question::Confirm => self.confirm(c, &answers)?,
            }
        }
        Ok(answers)
    }

    /// The key review: every key on its lines (alias, account, region; ARN; the SHA-256 of its
    /// KMS wrapping key), for the witness to check production against development; `y` when
    /// every key was checked, `n` leaves.
    fn keys(&self, c: &mut dyn Console) -> Result<()> {
        let manifest = self.checked.bundle.bundle.manifest();
        self.heading(
            Question::Keys,
            ": the witness checks where each key goes (account, region, alias)",
        );
        for (i, k) in manifest.keys.iter().enumerate() {
            let wrapping = manifest
                .files
                .get(&Manifest::file_path(k, manifest::WRAPPING_PUBLIC_KEY))
                .map(String::as_str)
                .unwrap_or("(none)");
            crate::say!(
                "  {}. {}  account {}  region {}",
                i + 1,
                k.alias.as_deref().unwrap_or(&k.name),
                k.account,
                k.region
            );
            crate::say!("     {}", k.key_arn);
            crate::say!("     wrapping key SHA-256 {wrapping}");
            for r in &k.replicas {
                let theirs = manifest
                    .files
                    .get(&Manifest::region_file_path(
                        k,
                        Some(&r.region),
                        manifest::WRAPPING_PUBLIC_KEY,
                    ))
                    .map(String::as_str)
                    .unwrap_or("(none)");
                crate::say!("     replica in {}: {}", r.region, r.key_arn);
                crate::say!("       its Region's wrapping key SHA-256 {theirs}");
            }
            if let Some(t) = &k.takes_over {
                crate::say!("     takes over {} from {}", t.alias, t.previous_key_arn);
            }
        }
        let question = format!(
            "the witness checked all {} (y: yes, n: leave): ",
            keys_counted(manifest.keys.len())
        );
        if yes(c, &question)? {
            Ok(())
        } else {
            crate::say!("  left: nothing was touched; the HSM and the bundle are as they were");
            Err(Error::LeftBeforeConfirmed)
        }
    }

    fn introduce(&self) {
        let s = self.script();
        crate::say!("keyrite ceremony, line mode: {}", s.ceremony.name);
        crate::say!(
            "  wrapping {} under {} wrapping keys, on token {:?}",
            s.wrapping.algorithm,
            s.wrapping.key_spec,
            self.inputs.uri.token
        );
        for k in &s.keys {
            crate::say!("  key {}", k.key);
        }
        crate::say!(
            "  the checks that need nobody have passed. End of input (Ctrl-D) at any question leaves with nothing touched."
        );
    }

    fn people(&self, c: &mut dyn Console) -> Result<(String, Option<String>)> {
        self.heading(Question::People, ": the operator and the witness");
        let operator = loop {
            let name = name_answer(c, "operator's name: ")?;
            if name.is_empty() {
                crate::say!("  type the operator's name");
                continue;
            }
            break name;
        };
        let question = if self.script().witness_required() {
            "witness's name: "
        } else {
            "witness's name (Enter for none): "
        };
        loop {
            let name = name_answer(c, question)?;
            let witness = (!name.is_empty()).then_some(name);
            match self.script().check_people(&operator, witness.as_deref()) {
                Ok(()) => return Ok((operator, witness)),
                Err(problem) => crate::say!("  {problem}: type the witness's name again"),
            }
        }
    }

    fn custodians(&self, c: &mut dyn Console, roster: &RosterFile) -> Result<Vec<CustodianAnswer>> {
        let need = usize::from(roster.roster.threshold);
        let shares = roster.mode == QuorumMode::Shamir;
        self.heading(
            Question::Custodians,
            &format!(
                ": {need} of the roster's {} open the HSM",
                roster.roster.custodians.len()
            ),
        );
        crate::say!("  the custodians are {}", roster.roster.names().join(", "));
        if shares {
            crate::say!("  each types their share; it is not shown as it is typed");
        }
        let mut out: Vec<CustodianAnswer> = Vec::new();
        while out.len() < need {
            let position = out.len() + 1;
            let name = loop {
                let name = name_answer(c, &format!("custodian {position} of {need}, name: "))?;
                if name.is_empty() {
                    crate::say!("  type the custodian's name, as enrolled");
                    continue;
                }
                let earlier: Vec<&str> = out.iter().map(|a| a.name.as_str()).collect();
                match roster.check_name(&name, &earlier, position) {
                    // The name as enrolled, however it was typed.
                    Ok(entry) => break entry.name.clone(),
                    Err(problem) => crate::say!("  {problem}"),
                }
            };
            let share = if shares {
                Some(self.share(c, roster, &name, position)?)
            } else {
                None
            };
            out.push(CustodianAnswer { name, share });
        }
        Ok(out)
    }

    /// One custodian's share, asked again until it is theirs.
    fn share(
        &self,
        c: &mut dyn Console,
        roster: &RosterFile,
        name: &str,
        position: usize,
    ) -> Result<TypedShare> {
        loop {
            ask(&format!("share of {name} (not shown): "));
            let typed = c.secret()?.ok_or(Error::LeftBeforeConfirmed)?;
            // rpassword ends the line at a terminal.
            end_line(c.echoes());
            let trimmed = typed.trim();
            if trimmed.is_empty() {
                crate::say!(
                    "  no share read (a share is at most {SHARE_CAPACITY} letters, digits and dashes): {name}, type it again"
                );
                continue;
            }
            match roster.check_share(name, trimmed, position) {
                Ok(()) => {
                    crate::say!("  share {position} ({name}): accepted");
                    return Ok(TypedShare::from_str_zeroizing(trimmed));
                }
                // The error never holds the share.
                Err(problem) => crate::say!("  {problem}\n  {name}: type the share again"),
            }
        }
    }

    fn fingerprint(&self, c: &mut dyn Console) -> Result<String> {
        self.heading(
            Question::Fingerprint,
            ": the connected side reads out the SHA-256 of manifest.json (`keyrite kms prepare` printed it); type it here",
        );
        let expected = self.checked.bundle.bundle.fingerprint().to_string();
        loop {
            let typed = answer(c, "fingerprint (64 hex digits; spaces do not matter): ")?;
            match fingerprint_problem(&expected, &typed) {
                None => {
                    let typed = normalise_fingerprint(&typed);
                    crate::say!(
                        "  it matches this bundle. Read these words back to the connected side, who read theirs from the same fingerprint:"
                    );
                    for line in word_lines(&typed) {
                        crate::say!("    {line}");
                    }
                    return Ok(typed);
                }
                // The same words as the full-screen app's; then the whole fingerprint again.
                Some(problem) => crate::say!(
                    "  {problem}\n  type the whole fingerprint again, or stop (Ctrl-D) and fetch the right media"
                ),
            }
        }
    }

    /// A bundle holding an interrupted ceremony's log: finish the keys not yet wrapped, or abort
    /// (destroy the keys generated under it and never written). The choice is logged; anything
    /// else leaves with nothing touched.
    fn resume(&self, c: &mut dyn Console) -> Result<Option<ResumeChoice>> {
        let Some(i) = &self.checked.interrupted else {
            return Ok(None);
        };
        self.heading(
            Question::Resume,
            &format!(
                ": this bundle holds one, {}, {} wrapped",
                crate::tui::view::counted(i.records, "log record"),
                keys_counted(i.keys_wrapped)
            ),
        );
        if let Some(why) = &i.cannot_finish {
            crate::say!("  it cannot be finished now: {why}");
        }
        crate::say!("  finish: generate and wrap the keys not yet wrapped, then close the log");
        crate::say!("  abort:  destroy the keys generated under this bundle and never written");
        loop {
            match answer(c, "Type finish or abort (leave: Ctrl-D or leave): ")?
                .to_lowercase()
                .as_str()
            {
                "finish" if i.cannot_finish.is_none() => return Ok(Some(ResumeChoice::Finish)),
                "abort" => return Ok(Some(ResumeChoice::Abort)),
                "leave" => return Err(Error::LeftBeforeConfirmed),
                "finish" => crate::say!("  it cannot be finished now: type abort, or leave"),
                _ => crate::say!("  type finish, abort or leave"),
            }
        }
    }

    fn confirm(&self, c: &mut dyn Console, a: &Answers) -> Result<()> {
        self.heading(Question::Confirm, "");
        crate::say!("  operator   {}", a.operator);
        crate::say!("  witness    {}", a.witness.as_deref().unwrap_or("(none)"));
        if !a.custodians.is_empty() {
            let names: Vec<&str> = a.custodians.iter().map(|c| c.name.as_str()).collect();
            crate::say!("  quorum     {}", names.join(", "));
        }
        // The margin crossed while the questions were answered: no question whose y would fail.
        if let Some(why) = past_margin(
            self.checked.bundle.parameters_valid_to,
            self.script().expiry_margin(),
            jiff::Timestamp::now(),
            a.resume,
        ) {
            return Err(Error::BundleExpiring { problem: why });
        }
        // The question names what y does: aborting is not generating.
        let question = match (a.resume, &self.checked.interrupted) {
            (Some(ResumeChoice::Abort), Some(i)) => format!(
                "Abort: destroy {} generated and never written, and close the log? (y/n): ",
                keys_counted(i.keys_generated.saturating_sub(i.keys_wrapped))
            ),
            (Some(ResumeChoice::Finish), Some(i)) => format!(
                "Finish: generate and wrap the {} not yet wrapped, and close the log? (y/n): ",
                keys_counted(self.script().keys.len().saturating_sub(i.keys_wrapped))
            ),
            _ => format!(
                "Generate and wrap {} now? (y/n): ",
                keys_counted(self.script().keys.len())
            ),
        };
        // Only y or yes goes on; n or no leaves with nothing touched; an empty answer is asked
        // again.
        if yes(c, &question)? {
            Ok(())
        } else {
            crate::say!("  left: nothing was touched; the HSM and the bundle are as they were");
            Err(Error::LeftBeforeConfirmed)
        }
    }
}

/// Less than the margin left before the import parameters expire (`valid_to`) at `now`: why
/// this ceremony can no longer finish. An abort generates nothing: the expiry does not stop it.
fn past_margin(
    valid_to: Option<jiff::Timestamp>,
    margin: jiff::SignedDuration,
    now: jiff::Timestamp,
    resume: Option<ResumeChoice>,
) -> Option<String> {
    let left = valid_to?.duration_since(now);
    (left < margin && resume != Some(ResumeChoice::Abort)).then(|| {
        format!(
            "this ceremony can no longer finish: the import parameters expire in {}, under the {} margin",
            crate::core::terminal::duration_text(left.max(jiff::SignedDuration::ZERO)),
            crate::core::terminal::duration_text(margin)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::{SignedDuration as D, Timestamp};

    #[test]
    fn crossing_the_margin_before_the_confirmation_ends_the_ceremony_unless_it_aborts() {
        let now: Timestamp = "2026-11-28T20:00:00Z".parse().unwrap();
        let margin = D::from_mins(30);
        let valid_to = Some(now + D::from_mins(30) + D::from_secs(1));
        assert_eq!(past_margin(valid_to, margin, now, None), None);
        assert_eq!(past_margin(None, margin, now, None), None);
        let later = now + D::from_secs(2);
        let why = past_margin(valid_to, margin, later, None).unwrap();
        assert!(
            why.starts_with("this ceremony can no longer finish: the import parameters expire in 29 min 59 s, under the 30 min margin"),
            "{why}"
        );
        assert!(past_margin(valid_to, margin, later, Some(ResumeChoice::Finish)).is_some());
        assert_eq!(
            past_margin(valid_to, margin, later, Some(ResumeChoice::Abort)),
            None
        );
    }

    #[test]
    fn an_echo_that_exactly_fills_its_rows_is_erased_with_one_row_more() {
        assert_eq!(echo_rows(0, 80), 1);
        assert_eq!(echo_rows(79, 80), 1);
        // "custodian 1 of 2, name: " + "alice" + a share: exactly 80 characters.
        assert_eq!(echo_rows(80, 80), 2);
        assert_eq!(echo_rows(81, 80), 2);
        assert_eq!(echo_rows(160, 80), 3);
        assert_eq!(echo_rows(5, 0), 6);
    }
}
