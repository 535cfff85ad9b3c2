//! The Lambda function behind the AWS Config rule (deploy/keyrite-monitor.yaml): each periodic
//! notification runs [`keyrite_monitor::handle`].

use keyrite_monitor::{ConfigEvent, Monitor, Outcome, handle};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let monitor = match Monitor::from_environment().await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("keyrite-monitor: {e}");
            return Err(e.into());
        }
    };
    let monitor = &monitor;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ConfigEvent>| async move {
            let rule = event.payload.config_rule_name.clone().unwrap_or_default();
            match handle(&event.payload, monitor).await {
                Ok(outcome) => {
                    summary(&rule, &outcome);
                    Ok(outcome)
                }
                Err(e) => {
                    eprintln!("keyrite-monitor: rule {rule}: {e}");
                    Err(Diagnostic::from(e.to_string()))
                }
            }
        },
    ))
    .await
}

/// One line per key in the function's log (CloudWatch Logs), non-compliant keys first.
fn summary(rule: &str, outcome: &Outcome) {
    let mut lines: Vec<_> = outcome.evaluations.iter().collect();
    lines.sort_by_key(|e| (e.compliance != "NON_COMPLIANT", e.key_id.clone()));
    eprintln!(
        "keyrite-monitor: rule {rule}: {} of {} evaluated",
        keyrite::core::terminal::counted(outcome.evaluations.len(), "key"),
        outcome.region
    );
    for e in lines {
        eprintln!("  {} {}: {}", e.compliance, e.key_id, e.annotation);
    }
}
