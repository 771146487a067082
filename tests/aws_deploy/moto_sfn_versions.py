"""Fill moto's gaps around Step Functions versions and aliases (test bed only, inside the moto server).

moto 5.2 publishes versions (`publish=True` on create/update) and manages aliases, but has no
`ListStateMachineVersions`, `PublishStateMachineVersion` or `DeleteStateMachineVersion`, and its
`StartExecution` rejects an alias or version ARN (`describe_state_machine` only knows plain and
numbered ARNs, and a version object cannot run). The deployer needs all four, as real AWS has them.

What we add, small and close to the AWS API reference:
- ListStateMachineVersions: newest first, `stateMachineVersionArn` + `creationDate`.
- PublishStateMachineVersion: publishes the current revision (returns the latest version when it is
  already the current revision, as AWS does).
- DeleteStateMachineVersion: `ConflictException` while an alias routes to the version (AWS does).
- StartExecution on an alias ARN (the version with the largest weight) or a version ARN: the execution
  runs under the state machine (approximation: moto runs the state machine's *current* definition,
  not the version's; the deployer tests only need the execution to start and be listed), and
  DescribeExecution names the version (and alias) it was started on, as AWS does
  (`stateMachineVersionArn`, `stateMachineAliasArn`: `branchline resume --execution` reads them).

Read to write this (not copied): moto's `moto/stepfunctions/models.py` and `responses.py` (publish,
aliases), and the AWS Step Functions API reference for the four operations.
"""

from __future__ import annotations

from typing import Any

_FLAG = "_branchline_versions_shim"
_STARTED_ON: dict[str, dict[str, str]] = {}
"""execution ARN → the version (and alias) it was started on"""


def _split_version(arn: str) -> tuple[str, int] | None:
    head, _, tail = arn.rpartition(":")
    return (head, int(tail)) if tail.isdigit() and head.count(":") == 6 else None


def apply() -> None:
    """Install the operations on moto's Step Functions response and backend classes (idempotent)."""
    from moto.core.exceptions import AWSError
    from moto.core.responses import ActionResult, EmptyResult
    from moto.stepfunctions import models, responses
    from moto.stepfunctions.parser import models as parser_models

    cls = responses.StepFunctionResponse
    if getattr(cls, _FLAG, False):
        return

    class ConflictException(AWSError):
        TYPE = "ConflictException"
        STATUS = 400

    def _machine(self: Any, arn: str) -> Any:
        return self.stepfunction_backend.describe_state_machine(arn)

    def list_state_machine_versions(self: Any) -> Any:
        sm = _machine(self, self._get_param("stateMachineArn"))
        items = [
            {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
            for _, v in sorted(sm.versions.items(), reverse=True)
        ]
        return ActionResult({"stateMachineVersions": items})

    def publish_state_machine_version(self: Any) -> Any:
        sm = _machine(self, self._get_param("stateMachineArn"))
        latest = sm.latest_version
        if latest is None or latest.definition != sm.definition or latest.roleArn != sm.roleArn:
            sm.publish(self._get_param("description"))
            latest = sm.latest_version
        return ActionResult({"creationDate": latest.creation_date, "stateMachineVersionArn": latest.arn})

    def delete_state_machine_version(self: Any) -> Any:
        arn = self._get_param("stateMachineVersionArn")
        parts = _split_version(arn)
        if parts is None:
            raise ConflictException(f"not a state machine version ARN: {arn}")
        source_arn, number = parts
        sm = next((m for m in self.stepfunction_backend.state_machines if m.arn == source_arn), None)
        if sm is None or number not in sm.versions:
            return EmptyResult()
        for alias in sm.aliases.values():
            if any(r["stateMachineVersionArn"] == arn for r in alias.routing_configuration):
                raise ConflictException(f"version {arn} is referenced by alias {alias.name}")
        del sm.versions[number]
        return EmptyResult()

    for fn in (list_state_machine_versions, publish_state_machine_version, delete_state_machine_version):
        setattr(cls, fn.__name__, fn)

    def _patch_start(backend_cls: type) -> None:
        original = backend_cls.start_execution

        def start_execution(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
            machine, version, alias = _runnable_arn(self, state_machine_arn)
            execution = original(self, machine, *args, **kwargs)
            started_on = {"stateMachineVersionArn": version, "stateMachineAliasArn": alias}
            _STARTED_ON[execution.execution_arn] = {k: v for k, v in started_on.items() if v}
            return execution

        backend_cls.start_execution = start_execution

    def _runnable_arn(backend: Any, arn: str) -> tuple[str, str | None, str | None]:
        """(machine to run, version started on, alias started on)."""
        parts = arn.split(":")
        alias_arn = None
        if len(parts) == 8 and not parts[-1].isdigit():  # alias
            alias = backend.describe_state_machine_alias(arn)
            routes = sorted(alias.routing_configuration, key=lambda r: r["weight"], reverse=True)
            alias_arn, arn = arn, routes[0]["stateMachineVersionArn"]
        version = _split_version(arn)
        if version is not None:
            backend.describe_state_machine(arn)  # raises for an unknown version
            return version[0], arn, alias_arn
        return arn, None, None

    original_describe = cls.describe_execution

    def describe_execution(self: Any) -> Any:
        result = original_describe(self)
        result.result.update(_STARTED_ON.get(self._get_param("executionArn"), {}))
        return result

    cls.describe_execution = describe_execution

    _patch_start(models.StepFunctionBackend)
    _patch_start(parser_models.StepFunctionsParserBackend)
    setattr(cls, _FLAG, True)
