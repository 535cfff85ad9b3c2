//! Key-age policy: how old a key's current material is, when it falls due, and whether it complies.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// The default policy: imported material is replaced at least once a year.
pub const DEFAULT_POLICY_DAYS: u32 = 365;
/// The default warning window before a key falls due.
pub const DEFAULT_DUE_SOON_DAYS: u32 = 30;
/// The most days a policy, a warning window or a grace period may span: a hundred years. Beyond
/// it a due date would leave the calendar; the command line and the Config rule refuse more.
pub const MAX_DAYS: u32 = 36_500;

/// A number of days (a flag or a rule parameter) that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaysError {
    #[error(
        "{name} is {text:?}, not a whole number of days; give a number from {min} to {MAX_DAYS}"
    )]
    NotANumber {
        name: String,
        text: String,
        min: u32,
    },
    #[error(
        "{name} is {days} days, outside {min}..={MAX_DAYS} (a hundred years at most); give a number from {min} to {MAX_DAYS}"
    )]
    OutOfRange { name: String, days: u64, min: u32 },
}

/// A number of days for `name` (a flag or a rule parameter) checked to lie in `min..=MAX_DAYS`;
/// the error says what is wrong and what to do.
pub fn days_in_range(name: &str, text: &str, min: u32) -> Result<u32, DaysError> {
    let days: u64 = text.trim().parse().map_err(|_| DaysError::NotANumber {
        name: name.to_string(),
        text: text.to_string(),
        min,
    })?;
    match u32::try_from(days) {
        Ok(d) if (min..=MAX_DAYS).contains(&d) => Ok(d),
        _ => Err(DaysError::OutOfRange {
            name: name.to_string(),
            days,
            min,
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compliance {
    Compliant,
    /// Falls due within the warning window.
    DueSoon,
    /// Past due.
    NonCompliant,
    /// The key has no material (PendingImport): nothing to age.
    NoMaterial,
}

impl Compliance {
    pub fn as_str(self) -> &'static str {
        match self {
            Compliance::Compliant => "COMPLIANT",
            Compliance::DueSoon => "DUE_SOON",
            Compliance::NonCompliant => "NON_COMPLIANT",
            Compliance::NoMaterial => "NO_MATERIAL",
        }
    }
}

/// Where the time the current material became current comes from, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgeSource {
    /// KMS ListKeyRotations: the current material's rotation date.
    KmsRotations,
    /// CloudTrail: the key's last successful ImportKeyMaterial or RotateKeyOnDemand event.
    Cloudtrail,
    /// An import receipt that recorded this key material id being imported.
    Receipt,
    /// The key's CreationDate: an estimate. Material is never older than its key, so the age is
    /// an upper bound and the verdict errs on the side of NON_COMPLIANT.
    KeyCreationEstimate,
}

impl AgeSource {
    pub fn is_estimate(self) -> bool {
        self == AgeSource::KeyCreationEstimate
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AgeSource::KmsRotations => "kms rotations",
            AgeSource::Cloudtrail => "cloudtrail",
            AgeSource::Receipt => "import receipt",
            AgeSource::KeyCreationEstimate => "key creation (estimate)",
        }
    }
}

/// The policy a status report applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub max_age_days: u32,
    pub due_soon_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_age_days: DEFAULT_POLICY_DAYS,
            due_soon_days: DEFAULT_DUE_SOON_DAYS,
        }
    }
}

/// A key's current material measured against a policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Age {
    pub since: Timestamp,
    pub source: AgeSource,
    pub estimate: bool,
    pub age_days: i64,
    pub due: Timestamp,
    pub compliance: Compliance,
    /// Created or rotated within the grace period: not reported late whatever the age says
    /// (an age from an estimate right after a ceremony would otherwise be a false alarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<Timestamp>,
}

/// Keys created or rotated within `days` of `now` (the latest of `changes`) are COMPLIANT,
/// marked with the end of their grace.
pub fn apply_grace(mut age: Age, days: u32, changes: &[Timestamp], now: Timestamp) -> Age {
    if days == 0 {
        return age;
    }
    if let Some(last) = changes.iter().max() {
        let until = later(*last, days);
        if now < until && age.compliance != Compliance::Compliant {
            age.compliance = Compliance::Compliant;
            age.grace_until = Some(until);
        }
    }
    age
}

const DAY: SignedDuration = SignedDuration::from_hours(24);

/// `days` after `t`, or the end of time when that leaves the calendar: no overflow panics
/// whatever a caller passes (the command line and the Config rule bound days to [`MAX_DAYS`]).
fn later(t: Timestamp, days: u32) -> Timestamp {
    i32::try_from(days)
        .ok()
        .and_then(|d| DAY.checked_mul(d))
        .and_then(|span| t.checked_add(span).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The age of material current since `since`, as of `now`.
pub fn assess(policy: Policy, since: Timestamp, source: AgeSource, now: Timestamp) -> Age {
    let due = later(since, policy.max_age_days);
    let compliance = if now >= due {
        Compliance::NonCompliant
    } else if later(now, policy.due_soon_days) >= due {
        Compliance::DueSoon
    } else {
        Compliance::Compliant
    };
    let age_days = now.duration_since(since).as_secs() / 86_400;
    Age {
        since,
        source,
        estimate: source.is_estimate(),
        age_days,
        due,
        compliance,
        grace_until: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + n * 86_400).unwrap()
    }

    #[test]
    fn compliance_table() {
        let p = Policy {
            max_age_days: 365,
            due_soon_days: 30,
        };
        let cases = [
            (0, Compliance::Compliant),
            (334, Compliance::Compliant),
            (335, Compliance::DueSoon),
            (364, Compliance::DueSoon),
            (365, Compliance::NonCompliant),
            (900, Compliance::NonCompliant),
        ];
        for (age, want) in cases {
            let a = assess(p, day(0), AgeSource::Receipt, day(age));
            assert_eq!(a.compliance, want, "age {age}");
            assert_eq!(a.age_days, age);
            assert_eq!(a.due, day(365));
            assert!(!a.estimate);
        }
        let a = assess(p, day(0), AgeSource::KeyCreationEstimate, day(1));
        assert!(a.estimate);
        let zero_window = Policy {
            max_age_days: 10,
            due_soon_days: 0,
        };
        assert_eq!(
            assess(zero_window, day(0), AgeSource::KmsRotations, day(9)).compliance,
            Compliance::Compliant
        );
    }

    #[test]
    fn days_out_of_range_are_refused_and_never_panic() {
        // (text, min, accepted)
        let cases = [
            ("365", 1, Some(365)),
            ("36500", 1, Some(36_500)),
            ("0", 0, Some(0)),
            ("0", 1, None),
            ("36501", 1, None),
            ("4000000", 1, None),
            ("99999999999999999999", 0, None),
            ("-1", 0, None),
            ("a year", 1, None),
        ];
        for (text, min, want) in cases {
            let got = days_in_range("--policy-days", text, min);
            assert_eq!(got.as_ref().ok().copied(), want, "{text}: {got:?}");
            if let Err(e) = got {
                let e = e.to_string();
                assert!(e.contains("--policy-days"), "{e}");
                assert!(e.contains("36500"), "{e}");
            }
        }
        // Past the bound, the arithmetic saturates instead of panicking.
        let huge = Policy {
            max_age_days: u32::MAX,
            due_soon_days: u32::MAX,
        };
        let a = assess(huge, day(0), AgeSource::Receipt, day(1));
        assert_eq!(a.due, Timestamp::MAX);
        assert_eq!(a.compliance, Compliance::DueSoon);
        let a = assess(Policy::default(), day(0), AgeSource::Receipt, day(400));
        assert_eq!(
            apply_grace(a, u32::MAX, &[day(399)], day(400)).grace_until,
            Some(Timestamp::MAX)
        );
    }

    #[test]
    fn grace_table() {
        let p = Policy::default();
        // Material aged from an estimate 400 days back; the key was rotated `changed` days ago.
        let cases = [
            (7, Some(1), Compliance::Compliant, true),
            (7, Some(6), Compliance::Compliant, true),
            (7, Some(7), Compliance::NonCompliant, false),
            (7, None, Compliance::NonCompliant, false),
            (0, Some(0), Compliance::NonCompliant, false),
        ];
        for (days, changed, want, graced) in cases {
            let now = day(400);
            let a = assess(p, day(0), AgeSource::KeyCreationEstimate, now);
            let changes: Vec<Timestamp> = changed.map(|c| day(400 - c)).into_iter().collect();
            let a = apply_grace(a, days, &changes, now);
            assert_eq!(a.compliance, want, "{days} {changed:?}");
            assert_eq!(a.grace_until.is_some(), graced);
        }
        // A compliant key is left as it is.
        let a = assess(p, day(0), AgeSource::Receipt, day(1));
        assert_eq!(apply_grace(a.clone(), 7, &[day(1)], day(1)), a);
    }
}
