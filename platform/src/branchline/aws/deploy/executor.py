"""Run a plan: one boto3 call per `Call`, in order, resolving `Ref`s from earlier responses.

Deliberately dumb: it makes no decision. Hooks run after each call (`after_call(index, call,
response)`): the CLI uses none, tests record mutating calls and inject a failure after call N.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from branchline.aws.deploy.models import Call, Plan, resolve

AfterCall = Callable[[int, Call, dict[str, Any]], None]
ClientFactory = Callable[[str], Any]


def _dig(response: dict[str, Any], path: str) -> Any:
    node: Any = response
    for part in path.split("."):
        node = node[part]
    return node


class Executor:
    """Executes plans against AWS; `variables` holds every output produced so far."""

    def __init__(self, clients: ClientFactory | None = None, after_call: Sequence[AfterCall] = ()) -> None:
        if clients is None:
            from branchline.aws.session import client as clients
        self.clients = clients
        self.after_call = list(after_call)
        self.variables: dict[str, Any] = {}

    def execute(self, plan: Plan) -> list[dict[str, Any]]:
        responses = []
        for index, call in enumerate(plan.calls):
            params = resolve(call.params, self.variables)
            response = getattr(self.clients(call.service), call.operation)(**params)
            response.pop("ResponseMetadata", None)
            for var, path in call.outputs.items():
                self.variables[var] = _dig(response, path)
            responses.append(response)
            for hook in self.after_call:
                hook(index, call, response)
        return responses


class CallRecorder:
    """An `after_call` hook that remembers every mutating call (for 'redeploy changes nothing')."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def __call__(self, index: int, call: Call, response: dict[str, Any]) -> None:
        if call.mutating:
            self.calls.append(call)

    @property
    def operations(self) -> list[str]:
        return [f"{c.service}.{c.operation}" for c in self.calls]


class InjectedFailure(RuntimeError):
    """Raised by `FailAfter` to simulate a deploy killed between two API calls."""


class FailAfter:
    """An `after_call` hook that raises once call number `index` (0-based) has completed."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.fired = False

    def __call__(self, index: int, call: Call, response: dict[str, Any]) -> None:
        if index == self.index:
            self.fired = True
            raise InjectedFailure(f"injected failure after call {index}: {call.service}.{call.operation}")
