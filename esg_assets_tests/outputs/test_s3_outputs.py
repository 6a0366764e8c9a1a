"""S3 mode: the Parquet file, the workbook and the manifest are objects under `ESG_S3_PREFIX`
like the other files (SSE-KMS), `files get` and `files verify` read them from S3, and a warehouse
reads `<prefix>FirmESGRatings_*.parquet` with DuckDB as the user guide shows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from esg_assets.settings import load_storage
from esg_assets.state.db import httpfs_extension_path
from esg_assets.storage.factory import open_store
from esg_assets_tests.support.job import PARTITION, fast_job_env, run_day
from esg_assets_tests.pipeline.oracle import parse_csv
from esg_assets_tests.sandbox.harness import SandboxProcess
from esg_assets_tests.support.cli import run_cli
from esg_assets_tests.support.s3 import S3Env

pytestmark = pytest.mark.integration
PREFIX = "warehouse/esg-ratings/"
YMD = PARTITION.replace("-", "")


def test_new_files_are_kms_objects_under_the_prefix_and_a_warehouse_reads_the_parquet(
    s3_env: S3Env, storage_env: Path, apply_env, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    s3_settings = {"ESG_STORAGE": "s3", "ESG_S3_BUCKET": s3_env.bucket, "ESG_S3_PREFIX": PREFIX,
                   "ESG_S3_KMS_KEY_ID": s3_env.kms_key_id, "ESG_S3_ENDPOINT_URL": s3_env.endpoint}
    with SandboxProcess(accounts=12, seed=5, today=PARTITION) as sb:
        apply_env(fast_job_env(storage_env, sb.env(), ESG_AUDIT_ACTOR="job", ESG_AUTHORIZED_READERS="job", **s3_settings))
        with dg.instance_for_test(temp_dir=str(storage_env)) as instance:
            assert run_day(instance=instance).success

    s3 = s3_env.client()
    for name in (f"FirmESGRatings_{YMD}.parquet", f"FirmESGRatings_{YMD}.xlsx", f"FirmESGManifest_{YMD}.json"):
        head = s3.head_object(Bucket=s3_env.bucket, Key=PREFIX + name)
        assert head["ServerSideEncryption"] == "aws:kms", name
    code, _out, err = run_cli(capfd, "files", "get", PARTITION, "--kind", "manifest", "--out", str(tmp_path))
    assert code == 0, err
    manifest = json.loads((tmp_path / f"FirmESGManifest_{YMD}.json").read_bytes())
    parquet = next(f for f in manifest["files"] if f["name"].endswith(".parquet"))
    body = s3.get_object(Bucket=s3_env.bucket, Key=PREFIX + parquet["name"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == parquet["sha256"] and parquet["rows"] == 12
    code, out, err = run_cli(capfd, "files", "verify", PARTITION)
    assert code == 0 and "6 files match" in out, err

    # The user guide's warehouse query, word for word but for the bucket and the credentials
    # (moto speaks the S3 API on loopback).
    guide = (Path(__file__).resolve().parents[2] / "docs" / "user-guide.md").read_text(encoding="utf-8")
    query = guide.split("```sql\n", 1)[1].split("```", 1)[0]
    query = query.split("CREATE SECRET esg (TYPE s3, PROVIDER credential_chain);", 1)[1]
    query = query.replace("s3://firm-esg/esg-ratings/", f"s3://{s3_env.bucket}/{PREFIX}")
    con = duckdb.connect()
    con.execute(f"LOAD '{httpfs_extension_path()}'")
    host = s3_env.endpoint.removeprefix("http://")
    con.execute(f"""CREATE SECRET esg (TYPE s3, KEY_ID 'testing', SECRET 'testing', REGION 'us-east-1',
                    ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)""")
    rows = con.execute(query).fetchall()
    failed = sum(1 for r in parse_csv(b"".join(open_store(load_storage()).read(f"FirmESGRatings_{YMD}.csv")))[1:]
                 if r[9] == "Failed")
    assert len(rows) == 1 and rows[0][0].isoformat() == PARTITION and rows[0][1] == 12 and rows[0][3] == failed
    types = con.execute(f"""SELECT DISTINCT typeof(overall_score), typeof(analysis_date)
                            FROM read_parquet('s3://{s3_env.bucket}/{PREFIX}FirmESGRatings_*.parquet')""").fetchall()
    assert types == [("DECIMAL(5,2)", "DATE")]
