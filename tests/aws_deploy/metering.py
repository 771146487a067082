"""A client factory whose clients record every API call they make (botocore's `before-call` event).

What a deploy reads is a figure of the issue ("an unchanged redeploy costs at most one or two read calls"):
these clients let a test count the calls a real deploy makes against the real (moto) server.
"""

from __future__ import annotations

from typing import Any

READ_PREFIXES = ("Describe", "List", "Get")


class MeteredClients:
    """`service → boto3 client` (endpoint and credentials from the environment); `calls` in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            made = boto3.client(service)
            made.meta.events.register("before-call", self._record)
            self._clients[service] = made
        return self._clients[service]

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(f"{model.service_model.service_name}.{model.name}")

    @property
    def reads(self) -> list[str]:
        return [c for c in self.calls if c.split(".", 1)[1].startswith(READ_PREFIXES)]

    @property
    def writes(self) -> list[str]:
        return [c for c in self.calls if not c.split(".", 1)[1].startswith(READ_PREFIXES)]

    def reset(self) -> None:
        self.calls = []
