//! The step ids a ceremony log holds, and what each one's `data` carries.

/// First record. data: format, tool, tool_version, tool_sha256, script_sha256,
/// manifest_sha256 (the prepared manifest, as confirmed by the operators), token_label,
/// log_key_sha256 (SHA-256 of the log public key's DER SubjectPublicKeyInfo); with a roster also
/// roster_sha256, quorum_mode, quorum_threshold, quorum_custodians.
pub const START: &str = "ceremony.start";
/// The capability probe, before any key is generated. data: algorithm, mechanism, result,
/// wrap_with_trusted.
pub const PROBE: &str = "hsm.probe";
/// data: key (bundle key name), key_arn, hsm_label, check_value. In a re-wrap ceremony the
/// key is the escrowed one found by label, not a new one, and data also has
/// escrow_bundle_sha256 and reimport_of_key_material_id.
pub const KEY_GENERATED: &str = "key.generated";
/// data: key, file (bundle-relative path of EncryptedKeyMaterial.bin), sha256, algorithm.
pub const KEY_WRAPPED: &str = "key.wrapped";
/// Last record of a finished ceremony. data: manifest_sha256 (the manifest the ceremony wrote),
/// keys (count).
pub const END: &str = "ceremony.end";
/// The quorum opened the HSM; required right after the start record (and after each resumption)
/// when the start record binds a roster. data: mode, roster_sha256, threshold, authorised (an
/// array of {name, index}; never a share).
pub const QUORUM_MET: &str = "quorum.met";
/// An interrupted ceremony taken up again on the same bundle. data: choice ("finish" or
/// "abort"), tool_version, tool_sha256. The HSM is opened again: a quorum.met record (with a
/// roster) and a new capability probe (to finish) follow.
pub const RESUMED: &str = "ceremony.resumed";
/// Last record of an abandoned ceremony. data: reason, destroyed (the HSM labels of the keys
/// generated under this bundle whose wrapped material was never written, now destroyed).
pub const ABORTED: &str = "ceremony.aborted";
/// The only record of a roster's own log (`roster.log`): the log key signs the roster.
/// data: roster_sha256, mode, token_label, log_key_sha256, threshold, custodians.
pub const QUORUM_ENROLLED: &str = "quorum.enrolled";

/// The steps of a ceremony log.
pub const ALL: [&str; 8] = [
    START,
    QUORUM_MET,
    PROBE,
    KEY_GENERATED,
    KEY_WRAPPED,
    END,
    RESUMED,
    ABORTED,
];
