"""Executors for the deployer tests: the real one, remembering what it did, or stopping part-way.

The deployer takes its executor as a collaborator (`deploy(..., executor=)`, `apply_desired`, `teardown`), so
these wrap the real calls to the real (moto) server instead of threading hooks through product code.
"""

from __future__ import annotations

from typing import Any

from branchline.aws.deploy.executor import Executor
from branchline.aws.deploy.models import Call
from branchline.aws.session import ClientFactory, client


class InjectedFailure(RuntimeError):
    """Raised by a `CallRecorder(fail_after=N)`: a deploy killed between two API calls."""


class CallRecorder(Executor):
    """The real executor; remembers every call it made (all change something), and with `fail_after=N`
    raises once call number N (0-based) has completed."""

    def __init__(self, *, fail_after: int | None = None, clients: ClientFactory = client) -> None:
        super().__init__(clients)
        self.calls: list[Call] = []
        self.fail_after = fail_after

    def run(self, call: Call) -> dict[str, Any]:
        response = super().run(call)
        self.calls.append(call)
        if len(self.calls) - 1 == self.fail_after:
            raise InjectedFailure(f"injected failure after call {self.fail_after}: {call.service}.{call.operation}")
        return response

    @property
    def operations(self) -> list[str]:
        return [f"{c.service}.{c.operation}" for c in self.calls]
