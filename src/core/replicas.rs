//! The replicas of a multi-Region key, held to their primary. KMS never copies imported material
//! between Regions: each replica must be given the primary's current material itself, so a replica
//! whose current KeyMaterialId is not the primary's (or that has none, or is not Enabled) was left
//! behind by a rotation, and `kms status` and the Config rule name it.

/// A replica as DescribeKey in its own Region answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaFacts<'a> {
    pub region: &'a str,
    pub state: &'a str,
    pub key_material_id: Option<&'a str>,
}

/// Why the replica is behind a primary whose current material is `primary_material`, or None
/// when it holds that material and is Enabled (or the primary has none to hold).
pub fn behind(primary_material: Option<&str>, r: &ReplicaFacts<'_>) -> Option<String> {
    let primary = primary_material?;
    match r.key_material_id {
        None => Some(format!(
            "{}: no key material ({}), the primary's is {primary}",
            r.region, r.state
        )),
        Some(m) if m != primary => Some(format!(
            "{}: its current material is {m}, the primary's is {primary}",
            r.region
        )),
        Some(_) if r.state != "Enabled" => Some(format!(
            "{}: the primary's material, but the replica is {}",
            r.region, r.state
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_is_behind_unless_it_holds_the_primarys_material_and_is_enabled() {
        let r = |state, m| ReplicaFacts {
            region: "eu-west-1",
            state,
            key_material_id: m,
        };
        let cases: [(Option<&str>, ReplicaFacts, Option<&str>); 6] = [
            (Some("a"), r("Enabled", Some("a")), None),
            (None, r("PendingImport", None), None),
            (
                Some("a"),
                r("PendingImport", None),
                Some("eu-west-1: no key material (PendingImport), the primary's is a"),
            ),
            (
                Some("a"),
                r("Enabled", Some("b")),
                Some("eu-west-1: its current material is b, the primary's is a"),
            ),
            (
                Some("a"),
                r("Disabled", Some("a")),
                Some("eu-west-1: the primary's material, but the replica is Disabled"),
            ),
            (
                Some("a"),
                r("PendingDeletion", Some("b")),
                Some("eu-west-1: its current material is b, the primary's is a"),
            ),
        ];
        for (primary, replica, want) in cases {
            assert_eq!(
                behind(primary, &replica).as_deref(),
                want,
                "{primary:?} {replica:?}"
            );
        }
    }
}
