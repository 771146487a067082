"""Counting what a task reads from S3: every GetObject's body bytes, through botocore's own events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class S3Meter:
    """Keys, calls and body bytes of GetObject on one boto3 S3 client, from the moment it is attached."""

    bytes_read: int = 0
    keys: list[str] = field(default_factory=list)

    def attach(self, s3: Any) -> S3Meter:
        s3.meta.events.register("provide-client-params.s3.GetObject", self._key)
        s3.meta.events.register("after-call.s3.GetObject", self._bytes)
        return self

    def _key(self, params: dict[str, Any], **_: Any) -> None:
        self.keys.append(str(params.get("Key")))

    def _bytes(self, parsed: dict[str, Any], **_: Any) -> None:
        self.bytes_read += int(parsed.get("ContentLength") or 0)

    def reset(self) -> None:
        self.bytes_read, self.keys = 0, []
