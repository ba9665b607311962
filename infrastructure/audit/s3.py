"""Object-locked S3 anchor: one object per checkpoint, put with COMPLIANCE retention, so not even
the bucket's owner can delete or overwrite it before the retention ends. Keys sort newest first
(the position and time are stored inverted), so the latest checkpoints are one list request.
The bucket must have object lock enabled (checked before the first write: fail closed rather
than write deletable checkpoints). Needs ``boto3`` (``pip install 'ledgerflow[s3]'``)."""
from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.audit.anchors import AnchoredEntry, Checkpoint
from infrastructure.audit.lines import entry

_TOP = 10**19 - 1  # inverted numbers: larger positions and later times sort first


class S3Anchor:
    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None, region: str | None,
                 retain_days: int):
        import boto3  # optional dependency, imported only when selected
        from botocore.config import Config

        self.bucket, self.prefix, self.retain = bucket, prefix, timedelta(days=retain_days)
        self.local_file: None = None
        self.description = f"s3://{bucket}/{prefix} (object lock, {retain_days} days)"
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region,
                                        config=Config(s3={"addressing_style": "path"}))
        self._lock_checked = False

    def _require_object_lock(self) -> None:
        """Checked before the first write (not at start-up: an S3 outage must not stop the API)."""
        if self._lock_checked:
            return
        try:
            answer = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ObjectLockConfigurationNotFoundError":
                raise
            answer = {}
        lock = answer.get("ObjectLockConfiguration", {})
        if lock.get("ObjectLockEnabled") != "Enabled":
            raise ValueError(f"bucket {self.bucket} has no object lock: its checkpoints could be deleted")
        self._lock_checked = True

    def key(self, checkpoint: Checkpoint) -> str:
        micros = int(checkpoint.at.timestamp() * 1_000_000)
        return f"{self.prefix}{_TOP - checkpoint.position:019d}-{_TOP - micros:019d}.json"

    def append(self, checkpoint: Checkpoint) -> None:
        self._require_object_lock()
        body = json.dumps(checkpoint.to_json(), separators=(",", ":")).encode()
        self.client.put_object(
            Bucket=self.bucket, Key=self.key(checkpoint), Body=body, ContentType="application/json",
            ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=datetime.now(UTC) + self.retain,
            ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode())

    def latest(self, limit: int) -> list[AnchoredEntry]:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=limit)
        out = []
        for item in listed.get("Contents", []):
            key = item["Key"]
            try:
                record = json.loads(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            except ValueError:
                out.append(AnchoredEntry(key, None, "the object is not JSON"))
                continue
            found = entry(key, record if isinstance(record, dict) else None, "not an object")
            if found.checkpoint is not None and self.key(found.checkpoint) != key:
                # The list order is trusted only because a key is named after its content: an old
                # checkpoint copied under a key that sorts first would otherwise hide the newest.
                found = AnchoredEntry(key, None, f"its key does not match its content (position "
                                                 f"{found.checkpoint.position})")
            out.append(found)
        return out
