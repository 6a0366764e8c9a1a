"""The whole pipeline with `ESG_STORAGE=s3` against a moto server: every object is the logical
name under `ESG_S3_PREFIX`, server-side encrypted with `aws:kms` and the configured key, nothing
is written locally, and `esg-ratings files get` reads the files back from S3."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from esg_assets.storage.names import is_logical_name
from esg_assets_tests.support.job import PARTITION, fast_job_env, run_day
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.cli import run_cli
from esg_assets_tests.support.s3 import S3Env

pytestmark = pytest.mark.integration

PREFIX = "tenant-a/esg-ratings/"


def test_pipeline_writes_kms_encrypted_objects_and_files_get_reads_them(
    s3_env: S3Env, storage_env: Path, apply_env, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = storage_env
    with SandboxProcess(accounts=10, seed=2, today=PARTITION) as sb:
        apply_env(fast_job_env(
            home, sb.env(), ESG_STORAGE="s3", ESG_S3_BUCKET=s3_env.bucket, ESG_S3_PREFIX=PREFIX,
            ESG_S3_KMS_KEY_ID=s3_env.kms_key_id, ESG_S3_ENDPOINT_URL=s3_env.endpoint,
            ESG_AUDIT_ACTOR="job", ESG_AUTHORIZED_READERS="job",
        ))
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            assert run_day(instance=instance).success

    s3 = s3_env.client()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_env.bucket).get("Contents", [])]
    assert {"tenant-a/esg-ratings/FirmESGRatings_20261120.csv", "tenant-a/esg-ratings/FirmESGErrors_20261120.csv",
            "tenant-a/esg-ratings/FirmESGSummary_20261120.json"} <= set(keys)
    for key in keys:
        assert key.startswith(PREFIX) and is_logical_name(key[len(PREFIX):]), key
        head = s3.head_object(Bucket=s3_env.bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"].split("/")[-1] == s3_env.kms_key_id, key  # AWS gives an ARN
    assert not list(home.rglob("*.enc"))

    out_dir = tmp_path / "plain"
    code, out, err = run_cli(capfd, "files", "get", PARTITION, "--out", str(out_dir))
    assert code == 0, err
    plain = (out_dir / "FirmESGRatings_20261120.csv").read_bytes()
    body = s3.get_object(Bucket=s3_env.bucket, Key=PREFIX + "FirmESGRatings_20261120.csv")["Body"].read()
    assert plain == body and plain.startswith(b"Account ID,Account Name,") and plain.count(b"\r\nACC-") == 10
    code, out, _ = run_cli(capfd, "audit", "show")
    assert '"action":"read","file":"FirmESGRatings_20261120.csv"' in out.replace('"actor":"job",', "")
