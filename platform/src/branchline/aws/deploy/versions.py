"""Rollback: point the `live` alias at an earlier published version (versions are immutable)."""

from __future__ import annotations

from dataclasses import dataclass

from branchline.aws.deploy.models import Call, ObservedStateMachine, Plan
from branchline.errors import BranchlineError


class RollbackError(BranchlineError):
    """Nothing to roll back to, or an unknown version."""


@dataclass(frozen=True)
class RollbackPlan:
    plan: Plan
    from_version: int
    to_version: int


def _number(arn: str) -> int:
    return int(arn.rsplit(":", 1)[1])


def plan_rollback(sm: ObservedStateMachine, alias: str, to_version: int | None = None) -> RollbackPlan:
    """Move `alias` to `to_version`, or to the newest version older than the one it points at."""
    routed = sm.aliases.get(alias)
    if not routed:
        raise RollbackError(f"{sm.arn} has no alias {alias!r}", hint="deploy the flow first")
    current = max(_number(arn) for arn in routed)
    numbers = {v.number: v for v in sm.versions}
    if to_version is None:
        older = [n for n in numbers if n < current]
        if not older:
            raise RollbackError(
                f"alias {alias} already points at the oldest kept version ({current}) of {sm.arn}",
                hint="raise [tool.branchline.aws] keep_versions to keep more versions for rollback",
            )
        to_version = max(older)
    elif to_version not in numbers:
        kept = ", ".join(str(n) for n in sorted(numbers)) or "none"
        raise RollbackError(f"version {to_version} of {sm.arn} does not exist (kept: {kept})")
    target = numbers[to_version]
    call = Call("stepfunctions", "update_state_machine_alias",
                {"stateMachineAliasArn": f"{sm.arn}:{alias}",
                 "routingConfiguration": [{"stateMachineVersionArn": target.arn, "weight": 100}],
                 # no longer what the last deploy recorded: the next deploy observes and moves it forward
                 "description": f"rolled back from version {current} to version {to_version}"},
                f"move alias {alias} from version {current} to version {to_version}"
                + (f" ({target.description})" if target.description else ""),
                resource=f"{sm.arn}:{alias}")
    return RollbackPlan(Plan([call] if to_version != current else []), current, to_version)
