"""S3 store: object `ESG_S3_PREFIX + <logical name>`, server-side encrypted with SSE-KMS.

Access control is IAM and the bucket policy; encryption at rest is KMS (`ESG_S3_KMS_KEY_ID`) on
every upload, including the multipart ones. Credentials come only from the standard AWS chain
(environment, profile, instance role): nothing here takes a key.

Uploads stream: content up to one 8 MiB part is a single PUT; anything larger is a multipart
upload, which S3 makes visible only when completed (aborted on any error), so a reader sees the
old object or the new one, never a half one. The plain SHA-256 is known only at the end, so a
multipart object receives it by an in-place copy that replaces its metadata.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timezone
from typing import TYPE_CHECKING, Any

from esg_assets.settings import StorageSettings
from esg_assets.storage.errors import StoreError, StoreNotFoundError
from esg_assets.storage.names import is_logical_name
from esg_assets.storage.store import AuditedStore, Digest, StoredFile, StoredFileInfo

if TYPE_CHECKING:
    from dagster_aws.s3 import S3Resource

PART_SIZE = 8 * 1024 * 1024
_READ_SIZE = 1024 * 1024
_SHA_KEY = "sha256"  # object metadata: hex SHA-256 of the content


def make_client(settings: StorageSettings, resource: S3Resource | None = None) -> Any:
    """The S3 client of the `s3` resource (dagster-aws `S3Resource`: region, profile, retries);
    ESG_S3_ENDPOINT_URL, when set, overrides its endpoint (tests, MinIO). Without a resource
    (the `esg-ratings` command line) a default `S3Resource` takes the standard AWS chain."""
    from dagster_aws.s3 import S3Resource

    base = resource if resource is not None else S3Resource()
    if settings.s3_endpoint_url:
        fields = {name: getattr(base, name) for name in type(base).model_fields}
        base = S3Resource(**{**fields, "endpoint_url": settings.s3_endpoint_url})
    return base.get_client()


def _is_missing(err: Exception) -> bool:
    response = getattr(err, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3Store(AuditedStore):
    def __init__(self, settings: StorageSettings, actor: str | None = None, client: Any = None,
                 s3: S3Resource | None = None):
        super().__init__(settings, actor)
        if not settings.s3_bucket or not settings.s3_kms_key_id:
            raise StoreError("ESG_S3_BUCKET and ESG_S3_KMS_KEY_ID are required for S3 storage")
        self.bucket: str = settings.s3_bucket
        self.prefix = settings.s3_prefix
        self._sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": settings.s3_kms_key_id}
        self.client = client if client is not None else make_client(settings, s3)

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _location(self, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(name)}"

    def write(self, logical_name: str, chunks: Iterable[bytes]) -> StoredFile:
        name = self._name(logical_name)
        digest = Digest()
        try:
            self._upload(name, digest.tap(chunks), digest)
        except BaseException as err:
            self._audit("write", name, outcome="error", detail=f"write failed: {type(err).__name__}")
            raise
        self._audit("write", name, sha256=digest.hexdigest, detail=f"{digest.size} bytes")
        return StoredFile(name, digest.hexdigest, digest.size, self._location(name))

    def _upload(self, name: str, chunks: Iterator[bytes], digest: Digest) -> None:
        key = self._key(name)
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            for chunk in chunks:
                buffer += chunk
                while len(buffer) >= PART_SIZE:
                    if upload_id is None:
                        upload_id = self.client.create_multipart_upload(
                            Bucket=self.bucket, Key=key, **self._sse
                        )["UploadId"]
                    self._put_part(key, upload_id, parts, bytes(buffer[:PART_SIZE]))
                    del buffer[:PART_SIZE]
            if upload_id is None:
                self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=bytes(buffer),
                    Metadata={_SHA_KEY: digest.hexdigest}, **self._sse,
                )
                return
            if buffer:
                self._put_part(key, upload_id, parts, bytes(buffer))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
            upload_id = None
        except BaseException:
            if upload_id is not None:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        self.client.copy_object(
            Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
            Metadata={_SHA_KEY: digest.hexdigest}, MetadataDirective="REPLACE", **self._sse,
        )

    def _put_part(self, key: str, upload_id: str, parts: list[dict[str, Any]], body: bytes) -> None:
        number = len(parts) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def _head(self, name: str) -> dict[str, Any]:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        except Exception as err:
            if _is_missing(err):
                raise StoreNotFoundError(f"no stored file {name}") from None
            raise

    def read(self, logical_name: str) -> Iterator[bytes]:
        name = self._name(logical_name)
        self._check_reader(name)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(name))
        except Exception as err:
            if _is_missing(err):
                raise StoreNotFoundError(f"no stored file {name}") from None
            raise
        expected = (answer.get("Metadata") or {}).get(_SHA_KEY)
        return self._read(name, answer["Body"], expected)

    def _read(self, name: str, body: Any, expected: str | None) -> Iterator[bytes]:
        with body:
            yield from self._audited_read(name, body.iter_chunks(_READ_SIZE), expected)

    def exists(self, logical_name: str) -> bool:
        try:
            self._head(self._name(logical_name))
        except StoreNotFoundError:
            return False
        return True

    def delete(self, logical_name: str, reason: str, *, action: str = "delete") -> None:
        """Delete and audit; `action="retention-delete"` lets retention label its deletions."""
        name = self._name(logical_name)
        sha256 = (self._head(name).get("Metadata") or {}).get(_SHA_KEY)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(name))
        except Exception as err:
            self._audit(action, name, sha256, outcome="error", detail=f"{reason[:200]}: {type(err).__name__}")
            raise
        self._audit(action, name, sha256, detail=reason[:200])

    def list(self) -> list[StoredFileInfo]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(self.prefix):]
                if is_logical_name(name):
                    modified = item["LastModified"].astimezone(timezone.utc)
                    found.append(StoredFileInfo(name, int(item["Size"]), modified))
        return sorted(found, key=lambda entry: entry.logical_name)
