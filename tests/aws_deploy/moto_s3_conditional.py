"""Make moto's S3 conditional writes atomic (test bed only, inside the moto server).

S3 checks `If-None-Match: *` / `If-Match: <etag>` and writes in one step: of two conditional writers, exactly
one wins. moto 5.2 implements both headers on PutObject and DeleteObject (verified: 412 PreconditionFailed),
but checks the condition and then writes without a lock, and its server handles requests in threads, so two
racing writers can both pass the check. The namespace lock (branchline.aws.deploy.lock) relies on the real
service's atomicity; this shim gives moto the same by serialising S3 object writes that carry a condition.

Read to write this (not copied): moto's `moto/s3/responses.py` (`put_object`, `delete_object`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_FLAG = "_branchline_atomic_conditions"
_LOCK = threading.Lock()


def _atomic(handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.headers.get("If-Match") or self.headers.get("If-None-Match"):
            with _LOCK:
                return handler(self, *args, **kwargs)
        return handler(self, *args, **kwargs)

    return wrapped


def apply() -> None:
    """Wrap PutObject and DeleteObject (idempotent)."""
    from moto.s3.responses import S3Response

    if getattr(S3Response, _FLAG, False):
        return
    S3Response.put_object = _atomic(S3Response.put_object)  # type: ignore[method-assign]
    S3Response.delete_object = _atomic(S3Response.delete_object)  # type: ignore[method-assign]
    setattr(S3Response, _FLAG, True)
