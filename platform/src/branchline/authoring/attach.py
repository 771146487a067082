"""`--with NAME[:key=value,...]`: attach a step decorator to every step, as if written on each.

`DECORATORS` is the one registry of the decorators a user can name: their attributes with types, and the
function that records them (so defaults and range checks are the decorator's own). Add an entry with
`register(...)`; an entry with `unsupported` set turns `--with NAME` into that message.

A step's own decorator wins over the attached one of the same name (`@batch(memory=...)` on a step beats
`--with batch`). The attached decorators travel to Batch containers in `BRANCHLINE_WITH` (`to_env`/`from_env`)
so a task sees the same graph wherever it runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from branchline.authoring import compute, decorators
from branchline.errors import BranchlineError
from branchline.graph.model import Decorator, FlowGraph

ENV_VAR = "BRANCHLINE_WITH"


class AttachError(BranchlineError):
    """A `--with` value that names no decorator, an attribute it lacks, or a value of the wrong type."""


class Attr(NamedTuple):
    """One attribute of a decorator: its type (`int`, `float`, `bool`, `str`, `dict`) and what it means."""

    type: type
    help: str = ""


class DecoratorEntry(NamedTuple):
    name: str
    attrs: Mapping[str, Attr]
    record: Callable[..., Any] | None
    """the decorator itself (`retry`, `batch`...): called with the parsed attributes, it checks and records them"""
    help: str = ""
    unsupported: str | None = None
    """set: `--with NAME` is refused with this message (a flow-level or a not-supported decorator)"""


DECORATORS: dict[str, DecoratorEntry] = {}


def register(entry: DecoratorEntry) -> None:
    DECORATORS[entry.name] = entry


for _entry in (
    DecoratorEntry("batch", {
        "cpu": Attr(float, "vCPUs"), "memory": Attr(int, "MiB"), "gpu": Attr(int, "GPUs"),
        "queue": Attr(str, "job queue"), "image": Attr(str, "container image"), "iam_role": Attr(str, "job role ARN"),
        "shared_memory": Attr(int, "/dev/shm in MiB"), "max_swap": Attr(int, "MiB"), "swappiness": Attr(int, "0-100"),
    }, compute.batch, "run the step as an AWS Batch job"),
    DecoratorEntry("resources", {
        "cpu": Attr(float, "vCPUs"), "memory": Attr(int, "MiB"), "gpu": Attr(int, "GPUs"), "disk": Attr(int, "MiB"),
    }, decorators.resources, "what the step needs from its compute"),
    DecoratorEntry("retry", {"times": Attr(int, "retries after the first attempt"),
                             "minutes_between_retries": Attr(float, "minutes")}, decorators.retry, "retry on failure"),
    DecoratorEntry("timeout", {"seconds": Attr(int), "minutes": Attr(int), "hours": Attr(int)}, decorators.timeout,
                   "kill the step after this long"),
    DecoratorEntry("catch", {"var": Attr(str, "artifact holding the exception"), "print_exception": Attr(bool)},
                   decorators.catch, "let the flow go on when the step fails"),
    DecoratorEntry("environment", {"vars": Attr(dict, 'JSON object, e.g. vars={"A":"1"}')}, decorators.environment,
                   "environment variables"),
    DecoratorEntry("pypi", {"packages": Attr(dict, 'JSON object, e.g. packages={"pandas":"2.2.2"}'),
                            "python": Attr(str, "e.g. 3.11")}, compute.pypi, "extra packages for the step"),
    DecoratorEntry("schedule", {}, None, unsupported="@schedule is a flow decorator: write it above the class"),
    DecoratorEntry("conda", {}, None,
                   unsupported="@conda is not supported: use @pypi(packages={...}) (or --with pypi)"),
    DecoratorEntry("kubernetes", {}, None, unsupported="@kubernetes is not supported: steps run locally or on AWS "
                                                       "Batch (--with batch)"),
):  # fmt: skip
    register(_entry)


class Attached(NamedTuple):
    """One parsed `--with` value: the decorator and its recorded arguments (defaults filled in)."""

    name: str
    args: dict[str, Any]
    text: str


_SPLIT = re.compile(r",(?=\s*\w+\s*=)")
_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _convert(text: str, name: str, key: str, attr: Attr) -> Any:
    raw = text.strip()
    wanted = attr.type
    try:
        if wanted is bool:
            return _BOOL[raw.lower()]
        if wanted is int:
            value = float(raw)
            if value != int(value):
                raise ValueError(raw)
            return int(value)
        if wanted is float:
            number = float(raw)
            return int(number) if number == int(number) else number
        if wanted is dict:
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError(raw)
            return value
        return raw.strip("'\"")
    except (ValueError, KeyError, json.JSONDecodeError):
        kinds = {bool: "true or false", int: "a whole number", float: "a number", dict: "a JSON object"}
        raise AttachError(
            f"--with {name}: {key}={raw!r} is not {kinds.get(wanted, 'a string')}",
            hint=f"e.g. --with {name}:{key}={_example(wanted)}",
        ) from None


def _example(kind: type) -> str:
    return {bool: "true", int: "4", float: "2", dict: '\'{"KEY":"value"}\''}.get(kind, "NAME")


def parse_with(text: str) -> Attached:
    """`batch:memory=16000,cpu=4` → Attached("batch", {...all recorded args...}); clear errors otherwise."""
    name, _, spec = text.strip().partition(":")
    name = name.strip().lstrip("@")
    entry = DECORATORS.get(name)
    if entry is None:
        known = ", ".join(sorted(n for n, e in DECORATORS.items() if e.unsupported is None))
        raise AttachError(f"--with {text}: there is no decorator named {name!r}", hint=f"known decorators: {known}")
    if entry.unsupported is not None or entry.record is None:
        raise AttachError(f"--with {text}: {entry.unsupported or 'cannot be attached'}")
    kwargs: dict[str, Any] = {}
    for part in _SPLIT.split(spec) if spec.strip() else []:
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise AttachError(f"--with {text}: {part!r} is not key=value",
                              hint=f"e.g. --with {name}:key=value,key=value")
        attr = entry.attrs.get(key)
        if attr is None:
            raise AttachError(
                f"--with {text}: {name} has no attribute {key!r}",
                hint=f"{name} takes: "
                + ", ".join(f"{k} ({a.help or a.type.__name__})" for k, a in entry.attrs.items()),
            )
        kwargs[key] = _convert(value, name, key, attr)
    try:
        recorded = entry.record(**kwargs)(_probe)
    except TypeError as exc:
        raise AttachError(f"--with {text}: {exc}") from None
    args = dict(getattr(recorded, decorators.DECORATORS_ATTR)[name])
    return Attached(name, args, text.strip())


def _probe() -> None:
    """A stand-in step the decorator records its arguments on."""


def parse_all(texts: Iterable[str]) -> list[Attached]:
    """Every `--with` value; naming one decorator twice is a mistake."""
    parsed = [parse_with(t) for t in texts]
    seen: dict[str, str] = {}
    for item in parsed:
        if item.name in seen:
            raise AttachError(f"--with {item.text} and --with {seen[item.name]} name the same decorator",
                              hint=f"give --with {item.name} once, with all its attributes")
        seen[item.name] = item.text
    return parsed


def attach(graph: FlowGraph, attached: Sequence[Attached]) -> FlowGraph:
    """The graph with each attached decorator added to every step that does not declare it itself."""
    if not attached:
        return graph
    steps = {}
    for name, node in graph.steps.items():
        own = {d.name for d in node.decorators}
        extra = tuple(Decorator(a.name, dict(a.args)) for a in attached if a.name not in own)
        steps[name] = replace(node, decorators=tuple(sorted(node.decorators + extra, key=lambda d: d.name)))
    return replace(graph, steps=steps)


def to_env(attached: Sequence[Attached]) -> str:
    return json.dumps([a.text for a in attached])


def from_env(value: str | None) -> list[Attached]:
    if not value:
        return []
    return parse_all(json.loads(value))
