//! The event AWS Config invokes a custom Lambda rule with: `invokingEvent` and `ruleParameters`
//! are JSON documents inside strings. This rule is periodic: it handles `ScheduledNotification`.

use jiff::Timestamp;
use keyrite::core::key_age::{Policy, days_in_range};
use serde::Deserialize;

use crate::MonitorError;

/// The event as Config sends it (the fields this rule reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigEvent {
    pub invoking_event: String,
    #[serde(default)]
    pub rule_parameters: Option<String>,
    pub result_token: String,
    #[serde(default)]
    pub config_rule_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvokingEvent {
    message_type: String,
    #[serde(default)]
    notification_creation_time: Option<String>,
}

/// The invoking event of a scheduled notification.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// When Config made the notification: the evaluations' ordering timestamp.
    pub notification_time: Option<Timestamp>,
}

/// The rule's parameters (InputParameters in the template), as strings as Config passes them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawParameters {
    policy_days: Option<String>,
    due_soon_days: Option<String>,
    grace_days: Option<String>,
}

/// The policy the rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parameters {
    pub policy: Policy,
    pub grace_days: u32,
}

/// A rule parameter's days, `min` to [`MAX_DAYS`]: anything else fails the run with an error
/// naming the parameter (Config shows it as the rule's failure) instead of a verdict made with it.
fn days(name: &str, value: Option<&str>, default: u32, min: u32) -> Result<u32, MonitorError> {
    match value {
        None => Ok(default),
        Some(v) => days_in_range(&format!("rule parameter {name}"), v, min).map_err(|e| {
            MonitorError::Event(format!(
                "{e}. What to do: set it so in the rule's InputParameters"
            ))
        }),
    }
}

impl ConfigEvent {
    pub fn invoking(&self) -> Result<Invoked, MonitorError> {
        let e: InvokingEvent = serde_json::from_str(&self.invoking_event).map_err(|e| {
            MonitorError::Event(format!("invokingEvent is not JSON as expected: {e}"))
        })?;
        if e.message_type != "ScheduledNotification" {
            return Err(MonitorError::Event(format!(
                "messageType {:?}: this rule is periodic and handles ScheduledNotification only. What to do: give the rule a MaximumExecutionFrequency and no Scope",
                e.message_type
            )));
        }
        Ok(Invoked {
            notification_time: e
                .notification_creation_time
                .as_deref()
                .and_then(|t| t.parse().ok()),
        })
    }

    pub fn parameters(&self) -> Result<Parameters, MonitorError> {
        let raw: RawParameters = match self.rule_parameters.as_deref().map(str::trim) {
            None | Some("") => RawParameters::default(),
            Some(p) => serde_json::from_str(p).map_err(|e| {
                MonitorError::Event(format!(
                    "ruleParameters: {e}. What to do: use policyDays, dueSoonDays and graceDays only"
                ))
            })?,
        };
        let d = Policy::default();
        Ok(Parameters {
            policy: Policy {
                max_age_days: days("policyDays", raw.policy_days.as_deref(), d.max_age_days, 1)?,
                due_soon_days: days(
                    "dueSoonDays",
                    raw.due_soon_days.as_deref(),
                    d.due_soon_days,
                    0,
                )?,
            },
            grace_days: days("graceDays", raw.grace_days.as_deref(), 0, 0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(invoking: &str, params: Option<&str>) -> ConfigEvent {
        ConfigEvent {
            invoking_event: invoking.into(),
            rule_parameters: params.map(str::to_string),
            result_token: "t".into(),
            config_rule_name: None,
        }
    }

    #[test]
    fn scheduled_notifications_only() {
        let ok = event(
            r#"{"messageType":"ScheduledNotification","notificationCreationTime":"2026-11-28T06:00:00.000Z"}"#,
            None,
        );
        assert_eq!(
            ok.invoking().unwrap().notification_time,
            Some("2026-11-28T06:00:00Z".parse().unwrap())
        );
        let change = event(
            r#"{"messageType":"ConfigurationItemChangeNotification"}"#,
            None,
        );
        assert!(
            change
                .invoking()
                .unwrap_err()
                .to_string()
                .contains("periodic")
        );
        assert!(event("not json", None).invoking().is_err());
    }

    #[test]
    fn parameters_table() {
        let d = Policy::default();
        // (ruleParameters, Some((policyDays, dueSoonDays, graceDays)) or None for an error)
        type Case<'a> = (Option<&'a str>, Option<(u32, u32, u32)>);
        let cases: [Case<'_>; 11] = [
            (None, Some((d.max_age_days, d.due_soon_days, 0))),
            (Some(""), Some((d.max_age_days, d.due_soon_days, 0))),
            (
                Some(r#"{"policyDays":"90"}"#),
                Some((90, d.due_soon_days, 0)),
            ),
            (
                Some(r#"{"policyDays":"180","dueSoonDays":"14","graceDays":"7"}"#),
                Some((180, 14, 7)),
            ),
            (Some(r#"{"policyDays":"a year"}"#), None),
            (Some(r#"{"maxAge":"90"}"#), None),
            (Some(r#"{"policyDays":"4000000"}"#), None),
            (Some(r#"{"policyDays":"0"}"#), None),
            (Some(r#"{"dueSoonDays":"36501"}"#), None),
            (Some(r#"{"graceDays":"99999999999"}"#), None),
            (
                Some(r#"{"policyDays":"36500","dueSoonDays":"0"}"#),
                Some((36_500, 0, 0)),
            ),
        ];
        for (params, want) in cases {
            let got = event("{}", params)
                .parameters()
                .ok()
                .map(|p| (p.policy.max_age_days, p.policy.due_soon_days, p.grace_days));
            assert_eq!(got, want, "{params:?}");
        }
        let e = event("{}", Some(r#"{"policyDays":"4000000"}"#))
            .parameters()
            .unwrap_err()
            .to_string();
        assert!(e.contains("policyDays") && e.contains("4000000"), "{e}");
        assert!(
            e.contains(&keyrite::core::key_age::MAX_DAYS.to_string()),
            "{e}"
        );
    }
}
