"""The deployer's data: desired state, observed state, and the plan between them. Pure data, no I/O.

The planner compares a `DesiredFlow` with an `ObservedFlow` (both plain data, so it is testable
without AWS) and returns `Call`s. A call's params may hold `Ref`s to values that only exist once an
earlier call has run (the ARN of a job definition revision registered in this same plan, the version
ARN a publish returns); the executor resolves them, and nothing else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# ----------------------------------------------------------------------------- references

_PLACEHOLDER = re.compile(r"<<ref:([^<>]+)>>")


@dataclass(frozen=True)
class Ref:
    """A value produced by an earlier call of the same plan, named `name`.

    Inside strings (e.g. an ARN embedded in a state machine definition compiled before the
    revision exists) it is written as `placeholder`; the executor substitutes both forms.
    """

    name: str

    @property
    def placeholder(self) -> str:
        return f"<<ref:{self.name}>>"


def job_definition_ref(name: str) -> Ref:
    """The ARN (with revision) of job definition `name`, known once observed or registered."""
    return Ref(f"jobdef:{name}")


def refs_in(value: Any) -> set[str]:
    """Names of every Ref (object or placeholder) inside `value`."""
    found: set[str] = set()
    if isinstance(value, Ref):
        found.add(value.name)
    elif isinstance(value, str):
        found.update(_PLACEHOLDER.findall(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            found |= refs_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= refs_in(item)
    return found


def resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """`value` with every Ref replaced by its variable (KeyError names a ref that was never set)."""
    if isinstance(value, Ref):
        return variables[value.name]
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), value)
    if isinstance(value, Mapping):
        return {k: resolve(v, variables) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, variables) for v in value]
    return value


def canonical_json(document: Any) -> str:
    """One spelling per document, so that definitions compare as text."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ----------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Call:
    """One AWS API call: `client(service).<operation>(**params)`.

    Every call changes something (plans hold no reads). `outputs` maps a variable name to a dotted path
    in the response (`jobDefinitionArn`).
    """

    service: str
    operation: str
    params: dict[str, Any]
    description: str
    outputs: dict[str, str] = field(default_factory=dict)
    resource: str = ""


@dataclass
class Plan:
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.calls)

    def __bool__(self) -> bool:
        return bool(self.calls)

    def extend(self, calls: list[Call]) -> None:
        self.calls.extend(calls)


# ----------------------------------------------------------------------------- desired


@dataclass(frozen=True)
class DesiredJobDefinition:
    """One step's Batch job definition: `request` is the RegisterJobDefinition input (without tags)."""

    step: str
    name: str
    request: dict[str, Any]
    spec_hash: str
    tags: dict[str, str]


@dataclass(frozen=True)
class DesiredSchedule:
    name: str
    expression: str
    timezone: str
    role_arn: str
    input: str = '{"params": {}}'


@dataclass(frozen=True)
class DesiredFlow:
    """Everything one flow of one namespace should be, before job definition ARNs are known.

    `definition` is the compiled state machine definition; where it names a job definition by ARN it
    holds `job_definition_ref(name).placeholder`, which the planner fills with the ARN of a revision
    that exists or leaves for the executor (a revision registered in the same plan).
    """

    flow: str
    state_machine_name: str
    role_arn: str
    job_definitions: tuple[DesiredJobDefinition, ...]
    definition: dict[str, Any]
    tags: dict[str, str]
    git_sha: str
    alias: str = "live"
    schedule: DesiredSchedule | None = None
    keep_versions: int = 10


# ----------------------------------------------------------------------------- observed


@dataclass(frozen=True)
class ObservedJobDefinition:
    name: str
    revision: int
    arn: str
    status: str
    tags: dict[str, str]


@dataclass(frozen=True)
class ObservedVersion:
    arn: str
    number: int
    definition: str
    role_arn: str
    description: str = ""


@dataclass(frozen=True)
class ObservedStateMachine:
    arn: str
    definition: str
    role_arn: str
    tags: dict[str, str]
    versions: tuple[ObservedVersion, ...] = ()
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """alias name → the version ARNs it routes to."""


@dataclass(frozen=True)
class ObservedSchedule:
    name: str
    group: str
    expression: str
    timezone: str
    target_arn: str
    role_arn: str
    input: str
    state: str
    description: str = ""


@dataclass(frozen=True)
class ObservedFlow:
    job_definitions: dict[str, tuple[ObservedJobDefinition, ...]] = field(default_factory=dict)
    """job definition name → its ACTIVE revisions."""
    state_machine: ObservedStateMachine | None = None
    schedule: ObservedSchedule | None = None


@dataclass
class FlowDeployResult:
    """What `deploy` did to a namespace's flows (the stack deploy of `aws.infra` has its own result)."""

    namespace: str
    plan: Plan
    executed: bool
    state_machines: dict[str, str] = field(default_factory=dict)
    """flow → live alias ARN (known after execution, predicted in a dry run)."""

    @property
    def changed(self) -> bool:
        return bool(self.plan.calls)
