"""The AWS side of scripts/check-monitor-zip: the keys and resources the function finds, and what
it must have said about them. Runs with the Python of LocalStack's venv (boto3, cryptography).

    monitor_zip_check.py setup KMS_S3_ENDPOINT RDS_DDB_ENDPOINT PREFIX OUT_DIR
        Three EXTERNAL keys in LocalStack's KMS, each with an alias:
          PREFIX/overdue  material imported (wrapped with the key's own RSA-OAEP-SHA-256 wrapping
                          key, as a ceremony does); CloudTrail (stubbed) says 400 days ago; it
                          protects an S3 bucket (LocalStack)
          PREFIX/fresh    material imported; CloudTrail says 10 days ago; it protects a DynamoDB
                          table (moto)
          PREFIX/pending  no material (PendingImport)
        Writes OUT_DIR/expected.json (key ids, resource names) and OUT_DIR/trail.json (the
        CloudTrail stub's {arn: days ago}).

    monitor_zip_check.py verify OUT_DIR RECORD EVENT START
        Checks the stand-in's RECORD (JSON lines) against OUT_DIR/expected.json and EVENT; START is
        the Unix time the bootstrap was started. Prints the findings; exits 1 on any failure.
"""

import json
import os
import sys

REGION = "us-east-1"


def setup(kms_s3: str, rds_ddb: str, prefix: str, out: str) -> None:
    import boto3
    from botocore.config import Config
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    creds = dict(region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local")
    kms = boto3.client("kms", endpoint_url=kms_s3, **creds)
    s3 = boto3.client("s3", endpoint_url=kms_s3, config=Config(s3={"addressing_style": "path"}), **creds)
    ddb = boto3.client("dynamodb", endpoint_url=rds_ddb, **creds)

    def key(name: str, material: bool) -> tuple[str, str]:
        meta = kms.create_key(Origin="EXTERNAL", Description=f"keyrite-monitor check: {name}")["KeyMetadata"]
        kms.create_alias(AliasName=f"alias/{prefix}/{name}", TargetKeyId=meta["KeyId"])
        if material:
            p = kms.get_parameters_for_import(KeyId=meta["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                              WrappingKeySpec="RSA_2048")
            public = serialization.load_der_public_key(p["PublicKey"])
            wrapped = public.encrypt(os.urandom(32), padding.OAEP(
                mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
            kms.import_key_material(KeyId=meta["KeyId"], ImportToken=p["ImportToken"],
                                    EncryptedKeyMaterial=wrapped,
                                    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
            state = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"]
            assert state == "Enabled", f"{name}: key state {state} after the import"
        return meta["KeyId"], meta["Arn"]

    overdue, overdue_arn = key("overdue", True)
    fresh, fresh_arn = key("fresh", True)
    pending, _ = key("pending", False)

    bucket = f"{prefix.replace('/', '-')}-data"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": overdue_arn}}]})
    table = f"{prefix.replace('/', '-')}-orders"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": fresh_arn})

    expected = {
        "prefix": prefix,
        "overdue": overdue, "fresh": fresh, "pending": pending,
        "bucket": bucket, "table": table,
    }
    write(os.path.join(out, "expected.json"), expected)
    write(os.path.join(out, "trail.json"), {overdue_arn: 400, fresh_arn: 10})


def write(path: str, value) -> None:
    tmp = path + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def verify(out: str, record_path: str, event_path: str, start: float) -> int:
    with open(os.path.join(out, "expected.json"), encoding="utf-8") as f:
        x = json.load(f)
    with open(event_path, encoding="utf-8") as f:
        event = json.load(f)
    with open(record_path, encoding="utf-8") as f:
        record = [json.loads(line) for line in f if line.strip()]
    failures = []

    def check(ok: bool, what: str) -> None:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    by_kind = {}
    for r in record:
        by_kind.setdefault(r["kind"], []).append(r)
    handed = [r for r in by_kind.get("next", []) if not r["held"]]
    held = [r for r in by_kind.get("next", []) if r["held"]]
    check(len(handed) == 1, f"the bootstrap fetched the event once (GET invocation/next: {len(handed)})")
    request_id = handed[0]["request_id"] if handed else None
    responses = by_kind.get("response", [])
    check(not by_kind.get("init_error"), f"no init error posted ({len(by_kind.get('init_error', []))})")
    for e in by_kind.get("error", []) + by_kind.get("init_error", []):
        print(f"       error posted: {e.get('error_type')}: {e['body'][:600]}")
    check(not by_kind.get("error"), f"no invocation error posted ({len(by_kind.get('error', []))})")
    check(len(responses) == 1 and responses[0]["request_id"] == request_id,
          "one response posted, for the event's request id")
    check(len(held) >= 1, "the bootstrap asked for the next event after answering (back in its loop)")
    check(not by_kind.get("unexpected"), f"no unexpected request ({by_kind.get('unexpected', [])})")

    puts = by_kind.get("put_evaluations", [])
    check(len(puts) == 1, f"one PutEvaluations call ({len(puts)})")
    sent = [e for p in puts for e in p["request"].get("Evaluations", [])]
    check(all(p["request"].get("ResultToken") == event["resultToken"] for p in puts),
          "PutEvaluations carries the event's result token")
    check(all("TestMode" not in p["request"] for p in puts), "PutEvaluations is not in test mode")
    by_id = {e["ComplianceResourceId"]: e for e in sent}
    check(len(sent) == 3 and set(by_id) == {x["overdue"], x["fresh"], x["pending"]},
          f"one evaluation for each of the 3 keys ({len(sent)} sent)")
    prefix = x["prefix"]
    want = {
        "overdue": ("NON_COMPLIANT", [f"alias/{prefix}/overdue: material 400 days old (max 365), overdue since ",
                                      f"; exposes 1: s3 bucket {x['bucket']}"]),
        "fresh": ("COMPLIANT", [f"alias/{prefix}/fresh: material 10 days old (max 365), due ",
                                f"; protects 1: dynamodb table {x['table']}"]),
        "pending": ("NOT_APPLICABLE", [f"alias/{prefix}/pending: no key material (PendingImport)"]),
    }
    for name, (compliance, parts) in want.items():
        e = by_id.get(x[name], {})
        annotation = e.get("Annotation", "")
        check(e.get("ComplianceType") == compliance and e.get("ComplianceResourceType") == "AWS::KMS::Key",
              f"{name} key {x[name]}: {e.get('ComplianceType')} (expected {compliance})")
        check(all(p in annotation for p in parts), f"{name} key's annotation: {annotation!r}")
    # 2026-11-28T06:00:00Z, the event's notificationCreationTime
    check(all(e.get("OrderingTimestamp") == 1_795_845_600 for e in sent),
          "ordered at the event's notification time")

    if responses:
        outcome = json.loads(responses[0]["body"])
        said = {e["key_id"]: e["compliance"] for e in outcome.get("evaluations", [])}
        check(outcome.get("region") == REGION and said == {k: v["ComplianceType"] for k, v in by_id.items()},
              "the response's outcome lists the evaluations that were put")
    if handed and responses:
        print(f"  time to the response: {responses[0]['at'] - start:.2f} s from the bootstrap's start, "
              f"{responses[0]['at'] - handed[0]['at']:.2f} s from the event's hand-out")
    if failures:
        print(f"check-monitor-zip: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "setup":
        setup(*args)
        sys.exit(0)
    if cmd == "verify":
        sys.exit(verify(args[0], args[1], args[2], float(args[3])))
    sys.exit(f"usage: {sys.argv[0]} setup|verify ...")
