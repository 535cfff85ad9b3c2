//! The ceremony's terminal UI as a state machine: a `Model`, the `Msg`s a person's keys (and the
//! HSM's progress, and the clock) become, and a pure `update`. Nothing here touches a terminal, a
//! file, the clock or the HSM: the time comes in as [`Msg::Tick`].
//!
//! The ceremony is a guided sequence of steps: who is present; the keys, checked by the witness;
//! the bundle fingerprint typed from the read-out; with a roster, the custodians; the
//! confirmation; the HSM at work; the result, in the order of the ceremony's questions
//! ([`crate::core::ceremony::questions`]). Each entry is checked as it is entered; Back keeps
//! what was typed; Esc asks before leaving; only `y` confirms. What is common to every step
//! (the clock, help, Back, leaving, scrolling) is handled here; each step's own keys, title,
//! next action and footer are in one place, its file in `step/`.

use jiff::{SignedDuration, Timestamp};
use zeroize::Zeroizing;

use super::edit::{Cursor, Edit};
use crate::app::ceremony::preflight::Interrupted;
use crate::app::ceremony::progress::{KeyStep, Progress};
use crate::app::quorum::MemoryLock;
use crate::core::ceremony::ResumeChoice;
use crate::core::ceremony::questions::{self, Question};
use crate::core::custody::{QuorumMode, RosterFile};
use crate::core::digest::normalise_fingerprint;
use crate::core::script::{Answers, CustodianAnswer, Script};

/// One key of the bundle as the witness checks it: where it goes (production or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's directory in the bundle.
    pub name: String,
    pub alias: Option<String>,
    pub arn: String,
    pub account: String,
    pub region: String,
    /// SHA-256 of the KMS wrapping public key the bundle holds for it.
    pub wrapping_key_sha256: String,
    /// Rotation by a new key: (alias, previous key ARN) it takes over once imported.
    pub takes_over: Option<(String, String)>,
    /// A multi-Region key's replicas: (Region, ARN, SHA-256 of that Region's wrapping key); the
    /// one HSM key is wrapped for each.
    pub replicas: Vec<(String, String, String)>,
}

/// What the screens show that the operators do not type: from the script, the bundle, the roster
/// and the command line, read (and preflighted) before the UI starts.
#[derive(Debug, Clone)]
pub struct Info {
    pub script: Script,
    pub keys: Vec<KeyInfo>,
    pub token: String,
    /// The bundle directory, to carry back to the connected side.
    pub bundle_dir: String,
    /// The SHA-256 of the bundle's manifest.json as found on this side. Never drawn before the
    /// operators typed it right.
    pub bundle_fingerprint: String,
    /// When the first of the bundle's import parameters expires.
    pub parameters_expire: Option<Timestamp>,
    /// With --roster: who may open the HSM, and how many must.
    pub roster: Option<RosterFile>,
    /// The bundle holds an interrupted ceremony's log: it is finished or aborted, not started.
    pub interrupted: Option<Interrupted>,
}

impl Info {
    pub fn quorum(&self) -> Option<u8> {
        self.roster.as_ref().map(|r| r.roster.threshold)
    }

    /// Whether the custodians type shares (shamir) or only their names (hsm-enforced).
    pub fn shares(&self) -> bool {
        self.roster
            .as_ref()
            .is_some_and(|r| r.mode == QuorumMode::Shamir)
    }

    pub fn margin(&self) -> SignedDuration {
        self.script.expiry_margin()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// An interrupted ceremony: finish or abort it.
    Resume,
    People,
    Keys,
    Fingerprint,
    Custodians,
    Confirm,
    Running,
    Result,
    /// The ceremony stopped with an error after the confirmation.
    Failed,
}

impl From<Question> for Screen {
    fn from(q: Question) -> Screen {
        match q {
            Question::Resume => Screen::Resume,
            Question::People => Screen::People,
            Question::Keys => Screen::Keys,
            Question::Fingerprint => Screen::Fingerprint,
            Question::Custodians => Screen::Custodians,
            Question::Confirm => Screen::Confirm,
        }
    }
}

impl Screen {
    /// The question this screen asks (None: the HSM at work, the result, a failure).
    pub fn question(self) -> Option<Question> {
        Some(match self {
            Screen::Resume => Question::Resume,
            Screen::People => Question::People,
            Screen::Keys => Question::Keys,
            Screen::Fingerprint => Question::Fingerprint,
            Screen::Custodians => Question::Custodians,
            Screen::Confirm => Question::Confirm,
            Screen::Running | Screen::Result | Screen::Failed => return None,
        })
    }
}

/// Which field the typed characters go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    First,
    Second,
}

/// What the main loop is to do after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    /// Leave without touching anything (exit 2).
    Quit,
    /// Confirmed: hand the answers to the ceremony.
    Run,
    /// The result (or the error) was seen: leave.
    Done,
}

/// The ceremony's report as the result screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultView {
    /// An interrupted ceremony aborted: the HSM labels of the keys destroyed.
    pub aborted: Option<Vec<String>>,
    pub probe: String,
    pub wrap_with_trusted: String,
    pub fingerprint: String,
    pub keys: Vec<KeyRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub name: String,
    pub check_value: String,
    pub label: String,
    pub sha256: String,
    /// A multi-Region key: the replicas' Regions it was wrapped for too.
    pub replica_regions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Char(char),
    /// A key that edits the field at its cursor (Backspace among them).
    Edit(Edit),
    /// Tab, Up or Down on a form: the other field.
    Tab,
    /// Shift-Tab: the previous step.
    Back,
    Enter,
    Esc,
    /// F1 (or `?` where no field takes text).
    Help,
    /// Up / Down / PageUp / PageDown on a list.
    ScrollUp,
    ScrollDown,
    /// Ctrl-C.
    Interrupt,
    /// The time now, for the countdown.
    Tick(Timestamp),
    /// The terminal's size (columns, rows), for what fits on a page.
    Size(u16, u16),
    /// A step of the ceremony inside the HSM.
    Progress(Progress),
    /// The ceremony finished with this report.
    Finished(ResultView),
    /// The ceremony stopped with this error (its text says what to do).
    Failed(String),
}

/// How far one key has got while the HSM works.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyProgress {
    /// The last step done (None: not started).
    pub step: Option<KeyStep>,
}

/// Everything the UI knows. Holds typed shares, so it is neither `Debug` nor `Clone`.
pub struct Model {
    pub info: Info,
    pub screen: Screen,
    pub outcome: Outcome,
    pub focus: Focus,
    pub operator: String,
    pub witness: String,
    pub fingerprint: String,
    /// The typed fingerprint was checked and is the bundle's.
    pub fingerprint_ok: bool,
    /// What is wrong with the last entry, shown until the next key.
    pub notice: Option<String>,
    pub custodians: Vec<CustodianAnswer>,
    pub custodian_name: String,
    pub(super) share: Zeroizing<String>,
    /// The share's pages, locked against swap; unlocked when the model drops, after the share
    /// (fields drop in order) was wiped.
    _share_lock: MemoryLock,
    /// Whether the system allowed that lock.
    pub share_locked: bool,
    /// Where in the focused field the next character goes; back at its end on every change of
    /// field.
    pub cursor: Cursor,
    /// Esc (or Ctrl-C once something was typed) was pressed: the leave box is open; `l` (or
    /// Ctrl-C again) leaves, any other key stays. `y` never leaves.
    pub leaving: bool,
    /// A name field held what looked like a share: it was cleared, and what is typed into it is
    /// dropped unseen until Enter, Tab or Esc.
    pub swallowing: bool,
    /// The help is open over the screen.
    pub help: bool,
    /// The first key shown on a list (the progress, the result); on the key review, the key
    /// selected (its details are shown under the table).
    pub scroll: usize,
    /// On the key review: how many keys, from the first, have been on screen. The review is
    /// approved only once every key has been.
    pub keys_seen: usize,
    /// The terminal's size (columns, rows), as last told by [`Msg::Size`].
    pub size: (u16, u16),
    /// The time, as last told by [`Msg::Tick`].
    pub now: Timestamp,
    /// While the HSM works: what it reported.
    pub quorum_line: Option<String>,
    pub probe_line: Option<String>,
    pub progress: Vec<KeyProgress>,
    pub result: Option<ResultView>,
    pub failure: Option<String>,
    /// For an interrupted ceremony: finish or abort, as chosen on the first screen.
    pub resume: Option<ResumeChoice>,
}

/// The most a typed share may hold; its buffer is allocated at this size once.
pub const SHARE_CAPACITY: usize = 512;

/// Room for a typed share, so that typing never moves it (leaving a copy behind), its pages
/// locked against swap for as long as the model lives (best effort: whether the system allowed
/// it is returned).
fn empty_share(lock: &mut MemoryLock) -> (Zeroizing<String>, bool) {
    // Written once in full so the whole allocation can be locked, then emptied (the allocation
    // stays).
    let mut share = Zeroizing::new("\0".repeat(SHARE_CAPACITY));
    let locked = lock.lock(share.as_bytes());
    share.clear();
    (share, locked)
}

impl Model {
    pub fn new(info: Info, now: Timestamp) -> Model {
        let keys = info.keys.len();
        let mut share_lock = MemoryLock::new();
        let (share, share_locked) = empty_share(&mut share_lock);
        let screen = if info.interrupted.is_some() {
            Screen::Resume
        } else {
            Screen::People
        };
        Model {
            info,
            screen,
            outcome: Outcome::Continue,
            focus: Focus::First,
            operator: String::new(),
            witness: String::new(),
            fingerprint: String::new(),
            fingerprint_ok: false,
            notice: None,
            custodians: Vec::new(),
            custodian_name: String::new(),
            share,
            _share_lock: share_lock,
            share_locked,
            cursor: Cursor::default(),
            leaving: false,
            swallowing: false,
            keys_seen: 0,
            size: (80, 24),
            help: false,
            scroll: 0,
            now,
            quorum_line: None,
            probe_line: None,
            progress: vec![KeyProgress::default(); keys],
            result: None,
            failure: None,
            resume: None,
        }
    }

    /// The ceremony's questions, in the order every driver asks them.
    pub fn questions(&self) -> Vec<Question> {
        questions::questions(self.info.interrupted.is_some(), self.info.roster.is_some())
    }

    /// The steps of this ceremony, in order: its questions, the HSM at work, the result.
    pub fn steps(&self) -> Vec<Screen> {
        let mut s: Vec<Screen> = self.questions().into_iter().map(Screen::from).collect();
        s.extend([Screen::Running, Screen::Result]);
        s
    }

    /// The screen of the question after this one.
    pub(super) fn next_question(&self) -> Screen {
        self.screen
            .question()
            .and_then(|q| questions::after(&self.questions(), q))
            .map_or(Screen::Confirm, Screen::from)
    }

    /// "step N of M" of the current screen (a failure counts as the result step).
    pub fn step(&self) -> (usize, usize) {
        let steps = self.steps();
        let screen = if self.screen == Screen::Failed {
            Screen::Result
        } else {
            self.screen
        };
        let n = steps.iter().position(|s| *s == screen).map_or(0, |i| i + 1);
        (n, steps.len())
    }

    /// How many characters of a share are typed (the screen shows one dot each).
    pub fn share_len(&self) -> usize {
        self.share.chars().count()
    }

    /// The typed share as the screen shows it: a dot for each character, and the separators
    /// (dash or space) as a dash, so the custodian sees which group they are in. The groups'
    /// lengths are the share's format, not a secret.
    pub fn share_dots(&self) -> String {
        self.share
            .chars()
            .map(|c| {
                if c == '-' || c.is_whitespace() {
                    '-'
                } else {
                    '•'
                }
            })
            .collect()
    }

    /// The group of the typed share the cursor is in, numbered as a mistyped group is named
    /// (the first group after the prefix and the index is group 1); None in those two.
    pub fn share_group(&self) -> Option<usize> {
        let at = self.cursor.at(&self.share);
        let mut parts: usize = 0;
        let mut in_part = false;
        for c in self.share.chars().take(at) {
            let sep = c == '-' || c.is_whitespace();
            if !sep && !in_part {
                parts += 1;
            }
            in_part = !sep;
        }
        // After a separator the cursor starts the next part.
        if !in_part {
            parts += 1;
        }
        parts.checked_sub(2).filter(|g| *g > 0)
    }

    /// Where the cursor is in the focused field, in characters from its start.
    pub fn cursor_at(&self) -> usize {
        match (self.screen, self.focus) {
            (Screen::People, Focus::First) => self.cursor.at(&self.operator),
            (Screen::People, Focus::Second) => self.cursor.at(&self.witness),
            (Screen::Fingerprint, _) => self.cursor.at(&self.fingerprint),
            (Screen::Custodians, Focus::First) => self.cursor.at(&self.custodian_name),
            (Screen::Custodians, Focus::Second) => self.cursor.at(&self.share),
            _ => 0,
        }
    }

    /// The fingerprint group the cursor is in (1-based, groups of four hex digits), and how many
    /// groups a fingerprint has.
    pub fn fingerprint_group(&self) -> (usize, usize) {
        let at = self.cursor.at(&self.fingerprint);
        let before: String = self.fingerprint.chars().take(at).collect();
        let digits = normalise_fingerprint(&before).chars().count();
        // Right after a group's fourth digit the cursor is still in that group.
        let ends_group = digits > 0
            && digits.is_multiple_of(4)
            && !before.chars().last().is_some_and(super::edit::is_separator);
        let group = if ends_group {
            digits / 4
        } else {
            digits / 4 + 1
        };
        (group.min(16), 16)
    }

    /// Where the people are: a change of it is a gate, and keys typed ahead of it are discarded.
    pub fn gate(&self) -> (Screen, bool, bool, usize) {
        (
            self.screen,
            self.leaving,
            self.swallowing,
            self.custodians.len(),
        )
    }

    /// Whether anything was typed that leaving would lose.
    pub fn typed_anything(&self) -> bool {
        !(self.operator.is_empty()
            && self.witness.is_empty()
            && self.fingerprint.is_empty()
            && self.custodians.is_empty()
            && self.custodian_name.is_empty()
            && self.share.is_empty())
    }

    /// How long the import parameters remain valid (None: the bundle names no expiry).
    pub fn remaining(&self) -> Option<SignedDuration> {
        self.info
            .parameters_expire
            .map(|t| t.duration_since(self.now))
    }

    /// How long until the countdown on screen changes: every second within the last hour (and
    /// once expired), else at the next whole minute, or sooner when the margin or the HURRY line
    /// (the margin plus the ceremony's length) is crossed first, so "Next" changes at once. The
    /// loop sleeps that long when no key comes.
    pub fn next_change(&self) -> std::time::Duration {
        let Some(r) = self.remaining() else {
            return std::time::Duration::from_secs(60);
        };
        if r.is_negative() || r < SignedDuration::from_hours(1) {
            return std::time::Duration::from_secs(1);
        }
        let minute = SignedDuration::from_mins(1);
        let mut wait = match r.as_secs() % 60 {
            0 => minute,
            s => SignedDuration::from_secs(s),
        };
        let margin = self.info.margin();
        let hurry = margin + self.info.script.ceremony_budget(self.custodians_needed());
        for line in [margin, hurry] {
            if r >= line {
                // Just past it: at the line itself it is not crossed yet.
                wait = wait.min(r - line + SignedDuration::from_millis(1));
            }
        }
        std::time::Duration::try_from(wait).unwrap_or(std::time::Duration::from_secs(1))
    }

    /// Less than the script's margin remains: the ceremony can no longer finish.
    pub fn expiry_warning(&self) -> bool {
        self.remaining().is_some_and(|r| r < self.info.margin())
    }

    /// The time above the margin is less than the ceremony's budget (see
    /// [`Script::ceremony_budget`]): it may not finish in time.
    pub fn short_of_time(&self) -> bool {
        let budget = self.info.script.ceremony_budget(self.custodians_needed());
        self.remaining()
            .is_some_and(|r| r - self.info.margin() < budget)
    }

    /// Before the confirmation, with less than the margin left: why this ceremony can no longer
    /// finish, and what to do.
    pub fn cannot_finish(&self) -> Option<String> {
        let before = matches!(
            self.screen,
            Screen::People
                | Screen::Keys
                | Screen::Fingerprint
                | Screen::Custodians
                | Screen::Confirm
        );
        // An abort generates nothing: the import parameters' expiry does not stop it.
        let aborting = self.resume == Some(ResumeChoice::Abort);
        (before && !aborting && self.expiry_warning()).then(|| {
            "this ceremony can no longer finish: Esc, and prepare a new bundle".to_string()
        })
    }

    pub(super) fn custodians_needed(&self) -> usize {
        self.info.quorum().map(usize::from).unwrap_or(0)
    }

    /// Whether a field on this screen takes the typed characters.
    pub fn text_focus(&self) -> bool {
        matches!(
            self.screen,
            Screen::People | Screen::Fingerprint | Screen::Custodians
        )
    }

    /// The answers, exactly as a headless run reads them from its answers file. Moves the typed
    /// shares out of the model.
    pub fn take_answers(&mut self) -> Answers {
        Answers {
            operator: self.operator.trim().to_string(),
            witness: Some(self.witness.trim().to_string()).filter(|w| !w.is_empty()),
            bundle_fingerprint: normalise_fingerprint(&self.fingerprint),
            custodians: std::mem::take(&mut self.custodians),
            resume: self.resume,
        }
    }

    pub(super) fn field(&mut self) -> Option<&mut String> {
        match (self.screen, self.focus) {
            (Screen::People, Focus::First) => Some(&mut self.operator),
            (Screen::People, Focus::Second) => Some(&mut self.witness),
            (Screen::Fingerprint, _) => Some(&mut self.fingerprint),
            (Screen::Custodians, Focus::First) => Some(&mut self.custodian_name),
            (Screen::Custodians, Focus::Second) => Some(&mut *self.share),
            _ => None,
        }
    }

    /// Moves the typing to `focus`, the cursor to the end of that field.
    pub(super) fn set_focus(&mut self, focus: Focus) {
        self.focus = focus;
        self.cursor = Cursor::default();
    }

    pub(super) fn clear_share(&mut self) {
        // Overwrite in place: the buffer keeps its one allocation.
        zeroize::Zeroize::zeroize(&mut *self.share);
        self.share.clear();
    }

    pub(super) fn go(mut self, screen: Screen) -> Model {
        self.screen = screen;
        self.set_focus(Focus::First);
        self.scroll = 0;
        self.mark_seen();
        self
    }

    /// How many rows of the key table fit on the key review at the terminal's size.
    pub fn keys_per_page(&self) -> usize {
        keys_per_page(self.size.0, self.size.1)
    }

    /// The first key row shown on the key review on a terminal of `size` (columns, rows): the
    /// selected key is always on screen.
    pub fn keys_first_shown(&self, size: (u16, u16)) -> usize {
        (self.scroll + 1).saturating_sub(keys_per_page(size.0, size.1))
    }

    /// Notes the keys now on screen on the key review.
    pub(super) fn mark_seen(&mut self) {
        if self.screen == Screen::Keys {
            let shown = self.keys_first_shown(self.size) + self.keys_per_page();
            self.keys_seen = self.keys_seen.max(shown.min(self.info.keys.len()));
        }
    }

    pub(super) fn refuse(mut self, notice: impl Into<String>) -> Model {
        self.notice = Some(notice.into());
        self
    }

    /// The step before this one (entries kept).
    pub(super) fn previous(&self) -> Option<Screen> {
        let q = self.screen.question()?;
        questions::before(&self.questions(), q).map(Screen::from)
    }

    /// The list length a scroll is bounded by on this screen.
    pub(super) fn list_len(&self) -> usize {
        match self.screen {
            Screen::Keys | Screen::Running => self.info.keys.len(),
            Screen::Result => self.result.as_ref().map_or(0, |r| r.keys.len()),
            _ => 0,
        }
    }
}

/// Whether a terminal `cols` wide is narrow: under 80 columns the countdown and the next action
/// take two rows each, and a key's ARN and digest wrap.
pub fn narrow(cols: u16) -> bool {
    cols < 80
}

/// The rows of the screen around a step's body: the countdown and the next action (one row
/// each, two on a narrow terminal), the notice and the footer (two each), the body's borders.
pub fn frame_rows(cols: u16) -> usize {
    if narrow(cols) { 10 } else { 8 }
}

/// How many rows of the key table fit on the key review on a terminal of `cols` x `rows`: the
/// screen less its frame, the table's head, and the selected key's details under it (5 rows,
/// 7 on a narrow terminal).
pub fn keys_per_page(cols: u16, rows: u16) -> usize {
    let details = if narrow(cols) { 7 } else { 5 };
    usize::from(rows)
        .saturating_sub(frame_rows(cols) + 1 + details)
        .max(1)
}
