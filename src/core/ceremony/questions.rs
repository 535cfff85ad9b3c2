//! The ceremony's questions to the people in the room, in the one order every driver asks them:
//! the full-screen app's steps and line mode's questions follow [`questions`], and a headless
//! answers file answers the same ones (the key review excepted: a file checks no key). Only
//! `y` at the confirmation lets anything happen.
//!
//! The order is the order of trust: first what the room is doing (finish or abort an interrupted
//! ceremony), who is present, the keys the witness checks, the bundle fingerprint read out from
//! the connected side; only then the custodians' shares, so no share is typed for a bundle
//! nobody checked; then the confirmation.

use crate::core::digest::{FingerprintCheck, check_fingerprint, normalise_fingerprint};

/// One question of the ceremony.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// An interrupted ceremony: finish or abort it.
    Resume,
    /// The operator and the witness.
    People,
    /// The key review: the witness checks where each key goes.
    Keys,
    /// The bundle fingerprint, typed as read out.
    Fingerprint,
    /// With a roster: the custodians of the quorum, each with their share.
    Custodians,
    /// The explicit confirmation.
    Confirm,
}

impl Question {
    /// What it is about, in a step's title or a line mode heading.
    pub fn title(self) -> &'static str {
        match self {
            Question::Resume => "an interrupted ceremony",
            Question::People => "who is present",
            Question::Keys => "the keys",
            Question::Fingerprint => "the bundle fingerprint",
            Question::Custodians => "the custodians",
            Question::Confirm => "confirm",
        }
    }
}

/// The questions of a ceremony, in order: `interrupted`, the bundle holds an interrupted
/// ceremony's log; `roster`, custodians open the HSM.
pub fn questions(interrupted: bool, roster: bool) -> Vec<Question> {
    let mut q = Vec::with_capacity(6);
    if interrupted {
        q.push(Question::Resume);
    }
    q.extend([Question::People, Question::Keys, Question::Fingerprint]);
    if roster {
        q.push(Question::Custodians);
    }
    q.push(Question::Confirm);
    q
}

/// The question after `q` in `list` (None: `q` is the last, or not in it).
pub fn after(list: &[Question], q: Question) -> Option<Question> {
    let i = list.iter().position(|x| *x == q)?;
    list.get(i + 1).copied()
}

/// The question before `q` in `list` (None: `q` is the first, or not in it).
pub fn before(list: &[Question], q: Question) -> Option<Question> {
    let i = list.iter().position(|x| *x == q)?;
    i.checked_sub(1).and_then(|i| list.get(i).copied())
}

/// What is wrong with a typed fingerprint against the bundle's, in the words every driver shows
/// (None: it is the bundle's). The expected value is never in it.
pub fn fingerprint_problem(expected: &str, typed: &str) -> Option<String> {
    if normalise_fingerprint(typed).is_empty() {
        return Some("type the fingerprint read out from the connected side".into());
    }
    match check_fingerprint(expected, typed) {
        FingerprintCheck::Matches => None,
        FingerprintCheck::Incomplete {
            typed_groups,
            total_groups,
            wrong,
        } => Some(format!(
            "only {typed_groups} of {total_groups} groups typed{}: type the rest as read out",
            groups_named(&wrong, ", and")
        )),
        FingerprintCheck::Wrong { wrong, extra } => {
            let typed = normalise_fingerprint(typed).len();
            let expected = normalise_fingerprint(expected).len();
            let head = if extra {
                // Typed groups past the end: say how many, and where the first difference is (a
                // group typed twice shifts every group after it, so listing them says nothing).
                let over = typed.saturating_sub(expected).div_ceil(4);
                let too_many = if over == 1 {
                    "1 group too many".to_string()
                } else {
                    format!("{over} groups too many")
                };
                match wrong.first() {
                    Some(first) => {
                        format!("MISMATCH: {too_many}, the first wrong is group {first}")
                    }
                    None => format!("MISMATCH: {too_many}"),
                }
            } else if wrong.len() > 3 {
                format!("MISMATCH in {} groups from group {}", wrong.len(), wrong[0])
            } else {
                format!("MISMATCH in{}", groups_named(&wrong, ""))
            };
            Some(format!(
                "{head}: check it with the read-out; read right? Stop: not the prepared bundle"
            ))
        }
    }
}

/// " group(s) 3, 7" (empty for none).
fn groups_named(wrong: &[usize], lead: &str) -> String {
    if wrong.is_empty() {
        return String::new();
    }
    let list: Vec<String> = wrong.iter().map(usize::to_string).collect();
    let word = if wrong.len() == 1 { "group" } else { "groups" };
    format!("{lead} {word} {}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_questions_come_in_the_order_of_trust_whatever_the_ceremony() {
        use Question::*;
        assert_eq!(
            questions(false, false),
            [People, Keys, Fingerprint, Confirm]
        );
        assert_eq!(
            questions(true, true),
            [Resume, People, Keys, Fingerprint, Custodians, Confirm]
        );
        let q = questions(false, true);
        assert_eq!(after(&q, Fingerprint), Some(Custodians));
        assert_eq!(after(&q, Confirm), None);
        assert_eq!(before(&q, People), None);
        assert_eq!(before(&q, Custodians), Some(Fingerprint));
        assert_eq!(after(&questions(false, false), Fingerprint), Some(Confirm));
        assert_eq!(after(&q, Resume), None);
    }

    #[test]
    fn a_typed_fingerprint_is_named_shortly_and_never_shows_the_expected_one() {
        let fp = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(fingerprint_problem(fp, &fp.to_uppercase()), None);
        assert!(
            fingerprint_problem(fp, " ")
                .unwrap()
                .starts_with("type the fingerprint")
        );
        let half = fingerprint_problem(fp, &fp[..32]).unwrap();
        assert!(half.starts_with("only 8 of 16 groups typed"), "{half}");
        let mut wrong = fp.to_string();
        wrong.replace_range(16..17, "0");
        let one = fingerprint_problem(fp, &wrong).unwrap();
        assert!(one.starts_with("MISMATCH in group 5:"), "{one}");
        let extra = fingerprint_problem(fp, &format!("{fp}abcd")).unwrap();
        assert!(extra.starts_with("MISMATCH: 1 group too many"), "{extra}");
        for p in [half, one, extra] {
            assert!(!p.contains(&fp[..8]), "{p}");
        }
    }
}
