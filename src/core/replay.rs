//! What `audit replay` shows: each log record as the screen the operators saw at that step, in
//! words. Pure: the driver decides whether to page through them or print them all.

use super::ceremony::Record;
use super::digest::grouped;
use super::log::Body;

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
    let lines: Vec<String> = match Record::from_data(&body.step, &body.data) {
        Ok(record) => lines(&record),
        // Not a record this keyrite reads: its data as written.
        Err(_) => body
            .data
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(text) => format!("  {k}: {text}"),
                None => format!("  {k}: {v}"),
            })
            .collect(),
    };
    for l in lines {
        s.push_str(&l);
        s.push('\n');
    }
    s
}

/// What the operators saw at one record.
fn lines(record: &Record) -> Vec<String> {
    match record {
        Record::Start(s) => {
            let mut v = vec![
                "The ceremony begins. The operators confirmed the bundle fingerprint read out from the connected side:".into(),
                format!("  {}", grouped(&s.manifest_sha256)),
                format!("script   sha256 {}", s.script_sha256),
                format!(
                    "keyrite  {} {} build (sha256 {})",
                    s.tool_version,
                    s.tool_features.as_deref().unwrap_or("unrecorded"),
                    s.tool_sha256
                ),
                format!("token    {:?}; log key sha256 {}", s.token_label, s.log_key_sha256),
            ];
            if let Some(p) = &s.provenance {
                let who = |l: &[String]| {
                    if l.is_empty() {
                        "nobody".to_string()
                    } else {
                        l.join(", ")
                    }
                };
                v.push(format!("bundle prepared by      {}", who(&p.prepared_by)));
                v.push(format!("bundle countersigned by {}", who(&p.cosigned_by)));
            } else {
                v.push("bundle unsigned: the start record names no signer".into());
            }
            if let Some(reason) = &s.provenance_waived {
                v.push(format!("signatures waived by the script: {reason}"));
            }
            for m in &s.alias_moves {
                v.push(format!(
                    "ALIAS MOVE: once imported, key {} takes over {} from {}",
                    m.key, m.alias, m.previous_key_arn
                ));
            }
            v
        }
        Record::Probe(p) => vec![
            format!(
                "The token was probed for {} before any key was generated:",
                p.algorithm
            ),
            format!("  {}", p.result),
            format!(
                "  wrap-with-trusted: {}",
                p.wrap_with_trusted.as_deref().unwrap_or("?")
            ),
        ],
        Record::QuorumMet(q) => {
            let who: Vec<String> = q
                .authorised
                .iter()
                .map(|(name, i)| format!("{name} (share {i})"))
                .collect();
            vec![
                format!(
                    "Quorum met ({}): {} of the roster's threshold {} authorised opening the HSM:",
                    q.mode,
                    who.len(),
                    q.threshold
                ),
                format!("  {}", who.join(", ")),
                format!("  roster sha256 {}", q.roster_sha256),
            ]
        }
        Record::KeyGenerated(k) => match &k.reimport {
            None => {
                let mut l = vec![
                    format!("The HSM generated AES-256 key material for {}.", k.key),
                    format!("  KMS key      {}", k.key_arn),
                    format!("  HSM label    {}", k.hsm_label),
                    format!("  check value  {}", k.check_value),
                ];
                if !k.replica_regions.is_empty() {
                    l.push(format!(
                        "  multi-Region: wrapped for its own Region, then for its replicas in {}",
                        k.replica_regions.join(", ")
                    ));
                }
                l
            }
            Some(r) => vec![
                format!(
                    "Re-wrap: the HSM's escrowed key material for {} was found again.",
                    k.key
                ),
                format!("  KMS key      {}", k.key_arn),
                format!("  HSM label    {}", k.hsm_label),
                format!("  check value  {}", k.check_value),
                format!("  escrow bundle sha256 {}", r.escrow_bundle_sha256),
                format!(
                    "  escrow log    sha256 {}",
                    r.escrow_log_sha256.as_deref().unwrap_or("unrecorded")
                ),
                format!(
                    "  KeyMaterialId {}",
                    r.key_material_id
                        .as_deref()
                        .unwrap_or("not logged (KMS checks it at import)")
                ),
            ],
        },
        Record::KeyWrapped(w) => vec![
            match &w.region {
                None => format!(
                    "The HSM wrapped {}'s material for KMS with {}.",
                    w.key,
                    w.algorithm.as_deref().unwrap_or("?")
                ),
                Some(r) => format!(
                    "The HSM wrapped {}'s material again, for its replica in {r}'s own wrapping key, with {}.",
                    w.key,
                    w.algorithm.as_deref().unwrap_or("?")
                ),
            },
            format!("  {} written, read back, sha256", w.file),
            format!("  {}", grouped(&w.sha256)),
        ],
        Record::End(e) => vec![
            format!(
                "The ceremony ended with {} key(s). Final manifest sha256:",
                e.keys.map_or_else(|| "?".to_string(), |n| n.to_string())
            ),
            format!("  {}", grouped(&e.manifest_sha256)),
        ],
        Record::Resumed(r) => vec![
            format!(
                "The interrupted ceremony was taken up again on the same bundle, to {} it.",
                r.choice.as_str()
            ),
            format!("keyrite  {} (sha256 {})", r.tool_version, r.tool_sha256),
        ],
        Record::Aborted(a) => {
            let mut l = vec![format!("The ceremony was aborted: {}", a.reason)];
            if a.destroyed.is_empty() {
                l.push("  no key had to be destroyed".into());
            } else {
                l.push(format!(
                    "  destroyed in the HSM (never written): {}",
                    a.destroyed.join(", ")
                ));
            }
            l
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::log::step;
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
