//! What `audit replay` shows: each log record as the screen the operators saw at that step, in
//! words. Pure: the driver decides whether to page through them or print them all.

use serde_json::Value;

use super::digest::grouped;
use super::log::{Body, step};

/// One screen per record.
pub fn screen(body: &Body, total: usize) -> String {
    let mut s = format!(
        "── step {} of {} · {} · {} ──\n",
        body.seq + 1,
        total,
        body.step,
        body.time.strftime("%Y-%m-%d %H:%M:%S UTC")
    );
    if !body.actors.is_empty() {
        s.push_str(&format!("present: {}\n", body.actors.join(", ")));
    }
    let f = |name: &str| {
        body.data
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let lines: Vec<String> = match body.step.as_str() {
        step::START => vec![
            "The ceremony begins. The operators confirmed the bundle fingerprint read out from the connected side:".into(),
            format!("  {}", grouped(&f("manifest_sha256"))),
            format!("script   sha256 {}", f("script_sha256")),
            format!(
                "keyrite  {} {} build (sha256 {})",
                f("tool_version"),
                body.data.get("tool_features").and_then(Value::as_str).unwrap_or("unrecorded"),
                f("tool_sha256")
            ),
            format!("token    {:?}; log key sha256 {}", f("token_label"), f("log_key_sha256")),
        ],
        step::PROBE => vec![
            format!("The token was probed for {} before any key was generated:", f("algorithm")),
            format!("  {}", f("result")),
            format!("  wrap-with-trusted: {}", f("wrap_with_trusted")),
        ],
        step::QUORUM_MET => {
            let who: Vec<String> = body
                .data
                .get("authorised")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|c| {
                            let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
                            match c.get("index").and_then(Value::as_u64) {
                                Some(i) => format!("{name} (share {i})"),
                                None => name.to_string(),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            vec![
                format!(
                    "Quorum met ({}): {} of the roster's threshold {} authorised opening the HSM:",
                    f("mode"),
                    who.len(),
                    f("threshold")
                ),
                format!("  {}", who.join(", ")),
                format!("  roster sha256 {}", f("roster_sha256")),
            ]
        }
        step::KEY_GENERATED => vec![
            format!("The HSM generated AES-256 key material for {}.", f("key")),
            format!("  KMS key      {}", f("key_arn")),
            format!("  HSM label    {}", f("hsm_label")),
            format!("  check value  {}", f("check_value")),
        ],
        step::KEY_WRAPPED => vec![
            format!("The HSM wrapped {}'s material for KMS with {}.", f("key"), f("algorithm")),
            format!("  {} written, read back, sha256", f("file")),
            format!("  {}", grouped(&f("sha256"))),
        ],
        step::END => vec![
            format!("The ceremony ended with {} key(s). Final manifest sha256:", f("keys")),
            format!("  {}", grouped(&f("manifest_sha256"))),
        ],
        _ => body.data.iter().map(|(k, v)| format!("  {k}: {v}")).collect(),
    };
    for l in lines {
        s.push_str(&l);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_screen_names_the_key_label_and_check_value() {
        let body = Body {
            seq: 2,
            time: "2026-11-24T10:00:00Z".parse().unwrap(),
            step: step::KEY_GENERATED.into(),
            actors: vec!["Alice".into(), "Walter".into()],
            data: super::super::log::data(&[
                ("key", "dev-s3"),
                ("key_arn", "arn:aws:kms:eu-west-1:1:key/k"),
                ("hsm_label", "keyrite/dev-s3/20261124/aca25264"),
                ("check_value", "495b76"),
            ]),
            prev: "00".repeat(32),
        };
        let s = screen(&body, 5);
        assert!(
            s.starts_with("── step 3 of 5 · key.generated · 2026-11-24 10:00:00 UTC ──\n"),
            "{s}"
        );
        assert!(s.contains("present: Alice, Walter"));
        assert!(
            s.contains("check value  495b76") && s.contains("keyrite/dev-s3/20261124/aca25264")
        );
    }
}
