"""Run a plan: one boto3 call per `Call`, in order, resolving `Ref`s from earlier responses.

Deliberately dumb: it makes no decision. It is the deployer's one collaborator with side effects:
`deploy`, `teardown` and `rollback_flow` take an executor, so tests give them one that records the
calls it makes or stops after a given call (tests/aws_deploy/recording.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from branchline.aws.deploy.models import Call, Plan, resolve
from branchline.aws.session import ClientFactory, client


def _dig(response: dict[str, Any], path: str) -> Any:
    node: Any = response
    for part in path.split("."):
        node = node[part]
    return node


class Executor:
    """Executes plans against AWS; `variables` holds every output produced so far.

    `guard`, when set, runs before every call: the namespace lock's check, so a writer that lost its lease
    stops before its next call.
    """

    def __init__(self, clients: ClientFactory = client) -> None:
        self.clients = clients
        self.variables: dict[str, Any] = {}
        self.guard: Callable[[], None] | None = None

    def execute(self, plan: Plan) -> list[dict[str, Any]]:
        return [self.run(call) for call in plan.calls]

    def run(self, call: Call) -> dict[str, Any]:
        """Make one call; remember its outputs for the calls after it."""
        if self.guard is not None:
            self.guard()
        response = getattr(self.clients(call.service), call.operation)(**resolve(call.params, self.variables))
        response.pop("ResponseMetadata", None)
        for var, path in call.outputs.items():
            self.variables[var] = _dig(response, path)
        return response
