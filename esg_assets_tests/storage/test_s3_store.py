"""The S3 store against a real moto server: SSE-KMS on every object, streaming, audit trail."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest

from esg_assets.settings import load_storage
from esg_assets.storage import StoreAccessRefused, StoreNotFoundError, logical_name, open_store
from esg_assets.storage import audit
from esg_assets.storage.s3 import PART_SIZE, S3Store

from esg_assets_tests.support.s3 import S3Env

pytestmark = pytest.mark.integration

RATINGS = logical_name("2026-11-27", "ratings")
SUMMARY = logical_name("2026-11-27", "summary")


def _assert_kms(env: S3Env, key: str) -> dict:
    head = env.client().head_object(Bucket=env.bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(env.kms_key_id)  # AWS answers an ARN, moto the bare id
    return head


def test_write_read_list_delete(s3_env: S3Env) -> None:
    settings = load_storage()
    store = open_store(settings)
    assert isinstance(store, S3Store)
    body = b"Account ID,Account Name\r\nACC-0000001,Acme\r\n"
    stored = store.write(RATINGS, [body[:10], body[10:]])
    store.write(SUMMARY, [b'{"partition": "2026-11-27"}'])
    key = "esg-ratings/" + RATINGS
    assert stored.location == f"s3://{s3_env.bucket}/{key}"
    assert stored.sha256 == hashlib.sha256(body).hexdigest() and stored.size == len(body)
    head = _assert_kms(s3_env, key)
    assert head["Metadata"]["sha256"] == stored.sha256
    _assert_kms(s3_env, "esg-ratings/" + SUMMARY)

    assert store.exists(RATINGS) and not store.exists(logical_name("2026-11-28", "ratings"))
    assert b"".join(store.read(RATINGS)) == body
    assert [(i.logical_name, i.size) for i in store.list()] == [(RATINGS, len(body)), (SUMMARY, 27)]

    store.delete(RATINGS, "test cleanup")
    assert not store.exists(RATINGS)
    with pytest.raises(StoreNotFoundError):
        store.read(RATINGS)
    actions = [(r["action"], r["file"], r["outcome"]) for r in audit.records(settings.audit_log)]
    assert actions == [
        ("write", RATINGS, "ok"), ("write", SUMMARY, "ok"), ("read", RATINGS, "ok"), ("delete", RATINGS, "ok"),
    ]
    assert list(audit.records(settings.audit_log))[-1]["sha256"] == stored.sha256
    assert audit.verify(settings.audit_log).ok


def test_large_content_goes_multipart_with_kms(s3_env: S3Env) -> None:
    settings = load_storage()
    store = open_store(settings)
    block = os.urandom(1024 * 1024)
    total = 2 * PART_SIZE + 3 * len(block)  # three parts, the last one short

    def chunks() -> Iterator[bytes]:
        for _ in range(total // len(block)):
            yield block

    stored = store.write(RATINGS, chunks())
    assert stored.size == total
    head = _assert_kms(s3_env, "esg-ratings/" + RATINGS)
    assert head["ContentLength"] == total and head["Metadata"]["sha256"] == stored.sha256
    digest = hashlib.sha256()
    for piece in store.read(RATINGS):
        digest.update(piece)
    assert digest.hexdigest() == stored.sha256


def test_failed_upload_leaves_no_object(s3_env: S3Env) -> None:
    store = open_store(load_storage())

    def broken() -> Iterator[bytes]:
        yield b"x" * (PART_SIZE + 10)
        raise RuntimeError("upstream died")

    with pytest.raises(RuntimeError):
        store.write(RATINGS, broken())
    assert not store.exists(RATINGS)
    uploads = s3_env.client().list_multipart_uploads(Bucket=s3_env.bucket).get("Uploads", [])
    assert uploads == []


def test_unauthorized_reader_refused(s3_env: S3Env) -> None:
    settings = load_storage()
    open_store(settings).write(RATINGS, [b"data"])
    with pytest.raises(StoreAccessRefused):
        open_store(settings, actor="mallory").read(RATINGS)
    last = list(audit.records(settings.audit_log))[-1]
    assert (last["actor"], last["outcome"]) == ("mallory", "refused")


def test_object_replaced_behind_our_back_is_detected(s3_env: S3Env) -> None:
    from esg_assets.storage import StoreIntegrityError

    settings = load_storage()
    store = open_store(settings)
    stored = store.write(RATINGS, [b"genuine"])
    s3_env.client().put_object(
        Bucket=s3_env.bucket, Key="esg-ratings/" + RATINGS, Body=b"forged",
        Metadata={"sha256": stored.sha256},
    )
    with pytest.raises(StoreIntegrityError, match="does not match"):
        b"".join(store.read(RATINGS))
    last = list(audit.records(settings.audit_log))[-1]
    assert (last["action"], last["outcome"]) == ("read", "error")


def test_files_get_through_s3(s3_env: S3Env, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import argparse

    from esg_assets.cli import files as storage_cli

    open_store(load_storage()).write(RATINGS, [b"a,b\r\n"])
    args = argparse.Namespace(date="2026-11-27", kind="ratings", out=str(tmp_path / "o"))
    assert storage_cli.files_get(args) == 0
    assert (tmp_path / "o" / RATINGS).read_bytes() == b"a,b\r\n"
