//! Multi-Region keys against the local KMS: `kms prepare` refuses a multi-Region primary and its
//! replica, naming their Regions, before any import parameters are fetched and without writing a
//! bundle. (Importing one bundle into one Region would leave the other Regions behind: KMS never
//! copies imported material between related multi-Region keys.)

use crate::common;

use common::*;

/// An EXTERNAL multi-Region primary in us-east-1 with an alias, replicated to eu-west-1 before
/// any import (LocalStack's ReplicateKey copies the primary as it is: a replica made now is
/// PendingImport, as AWS's is). Returns (alias, key id).
fn primary_with_a_replica() -> (String, String) {
    rt().block_on(async {
        let client = client().await;
        let meta = client
            .create_key()
            .origin(aws_sdk_kms::types::OriginType::External)
            .multi_region(true)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let id = meta.key_id().to_string();
        let replica = client
            .replicate_key()
            .key_id(&id)
            .replica_region("eu-west-1")
            .send()
            .await
            .unwrap();
        assert_eq!(
            replica.replica_key_metadata().and_then(|m| m.key_state()),
            Some(&aws_sdk_kms::types::KeyState::PendingImport),
            "a replica of an EXTERNAL primary made before any import waits for its material"
        );
        let alias = format!("alias/{}", unique("mrk"));
        client
            .create_alias()
            .alias_name(&alias)
            .target_key_id(&id)
            .send()
            .await
            .unwrap();
        (alias, id)
    })
}

#[test]
fn prepare_refuses_a_multi_region_primary_and_its_replica_naming_their_regions() {
    own_token!();
    let (alias, id) = primary_with_a_replica();
    let dir = tempfile::tempdir().unwrap();

    // `kms prepare` of one key in one Region: (exit code, stderr); no bundle may be written.
    let prepare = |key: &str, region: &str, out: &str| {
        let out = dir.path().join(out);
        let run = keyrite()
            .env("AWS_REGION", region)
            .args(["kms", "prepare", "--key", key, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(
            !out.exists(),
            "no bundle is written for a refused key: {err}"
        );
        (run.status.code(), err)
    };

    let (code, err) = prepare(&alias, "us-east-1", "bundle-primary");
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains(&format!(
            "{alias}: a multi-Region primary key (primary in us-east-1; replicas in eu-west-1)"
        )),
        "{err}"
    );
    assert!(err.contains("would leave the others behind"), "{err}");
    assert!(err.contains("what to do: leave this key out"), "{err}");

    // The replica, named by its ARN in its own Region.
    let replica_arn = format!("arn:aws:kms:eu-west-1:000000000000:key/{id}");
    let (code, err) = prepare(&replica_arn, "eu-west-1", "bundle-replica");
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("a multi-Region replica key (primary in us-east-1; replicas in"),
        "{err}"
    );

    // Both keys still wait for their material: nothing was imported anywhere.
    rt().block_on(async {
        let client = client().await;
        let state = client
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state
            .unwrap();
        assert_eq!(state, aws_sdk_kms::types::KeyState::PendingImport);
    });
}
