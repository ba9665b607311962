"""S3-compatible blob store (MinIO, Ceph, cloud object storage), selected by
``LEDGERFLOW_ARCHIVE_BLOB_STORE=s3``. Objects are keyed ``<prefix><aa>/<bb>/<sha256>``, so the
layout and de-duplication match the filesystem store. Uploads are staged on local disk first
(hash and size known before anything reaches the bucket), then put with the SHA-256 as a
checksum. Needs the optional ``boto3`` dependency (``pip install 'ledgerflow[s3]'``); it is not
exercised by the test suite (no S3 server in the embedded mode)."""
from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO

from domain.archive.content import StagedBlob
from infrastructure.archive.blobs import FilesystemBlobStore, valid_hash


class S3BlobStore:
    def __init__(self, staging: Path, *, bucket: str, endpoint_url: str | None, region: str | None,
                 access_key: str | None, secret_key: str | None, prefix: str = "blobs/"):
        import boto3  # optional dependency, imported only when selected

        self.bucket, self.prefix = bucket, prefix
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region,
                                        aws_access_key_id=access_key, aws_secret_access_key=secret_key)
        self._staging = FilesystemBlobStore(staging)

    def key(self, sha256: str) -> str:
        if not valid_hash(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def stage(self, chunks: Iterable[bytes], limit: int) -> StagedBlob:
        return self._staging.stage(chunks, limit)

    def lock(self, sha256: str) -> AbstractContextManager[None]:
        """Host-local lock (see FilesystemBlobStore.lock); several hosts sharing a bucket need a
        shared lock instead (ADR 0009)."""
        return self._staging.lock(sha256)

    def commit(self, staged: StagedBlob) -> bool:
        try:
            if self.exists(staged.sha256):
                return False
            with staged.path.open("rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=self.key(staged.sha256), Body=body,
                                       ChecksumSHA256=base64.b64encode(bytes.fromhex(staged.sha256)).decode())
            return True
        finally:
            staged.path.unlink(missing_ok=True)

    def discard(self, staged: StagedBlob) -> None:
        staged.path.unlink(missing_ok=True)

    def open(self, sha256: str) -> BinaryIO:
        return self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]

    def exists(self, sha256: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
            return True
        except self.client.exceptions.ClientError as exc:
            # Only "not there" means missing; access denied, throttling or a server error must
            # not make a stored blob look absent (it would be re-put or reported missing).
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 or exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))

    def hashes(self) -> Iterator[str]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if valid_hash(name):
                    yield name
