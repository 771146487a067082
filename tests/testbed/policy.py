"""Skip or fail: what a test does when a part of the test bed cannot run on this machine.

Outside CI a missing part (no root, a Debian package or node absent) skips the test with the precise reason, so
that a contributor without root still runs everything else. In CI (``CI`` true) the same thing fails: there the
test bed must be complete, and ``make test`` installs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NoReturn, TypeVar

import pytest

from tests.testbed.procs import TestbedUnavailable

T = TypeVar("T")


def in_ci() -> bool:
    """Whether we run in CI (``CI=true``, as GitHub Actions and our .ci/run set it)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip the current test because ``reason``; fail it instead in CI, where nothing may be skipped."""
    if in_ci():
        pytest.fail(f"test bed unavailable in CI (must not be skipped): {reason}", pytrace=False)
    pytest.skip(f"test bed unavailable: {reason}")


def require(part: Callable[[], T]) -> T:
    """Start a test bed part and return it; ``unavailable`` with the reason if this machine cannot run it."""
    try:
        return part()
    except TestbedUnavailable as exc:
        unavailable(str(exc))
