"""Tiny images for the image tests: a Dockerfile built from memory on the test bed's engine."""

from __future__ import annotations

import io
import tarfile
from typing import Any


def build(engine: Any, dockerfile: str, tag: str | None = None) -> Any:
    """Build `dockerfile` (no other context) on `engine`; the image."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        body = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    context.seek(0)
    image, _ = engine.images.build(fileobj=context, custom_context=True, tag=tag, network_mode="host", rm=True)
    return image
