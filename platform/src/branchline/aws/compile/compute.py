"""Where and with what one step runs: `@batch` and `@resources` (the larger of each wins, as in Metaflow),
the step's own image or `@pypi` packages. Read once from the graph, by the laptop's hybrid runtime (which steps
go to Batch, with which queue) and by the job-definition compiler alike, so both ask Batch for the same."""

from __future__ import annotations

from typing import Any, NamedTuple

from branchline.aws.compile.context import CompileError
from branchline.graph.model import StepNode

DEFAULT_CPU = 1
DEFAULT_MEMORY_MIB = 4096


class StepCompute(NamedTuple):
    on_batch: bool
    """`@batch` on the step (written, or attached with `--with batch`)"""
    cpu: float
    memory: int
    gpu: int
    queue: str | None = None
    image: str | None = None
    iam_role: str | None = None
    shared_memory: int | None = None
    max_swap: int | None = None
    swappiness: int | None = None
    pypi: tuple[tuple[str, str], ...] | None = None
    """`@pypi` packages as sorted (name, version spec) pairs; None without `@pypi`"""
    python: str | None = None


def _value(node: StepNode, deco: str, key: str, minimum: float) -> float | None:
    found = node.decorator(deco)
    value = found.args.get(key) if found is not None else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise CompileError(
            f"step {node.name!r}: @{deco}({key}={value!r}) is not a number >= {minimum:g}",
            hint=f"give @{deco} a literal {key} on line {node.lineno}",
        )
    return value


def _largest(node: StepNode, key: str, default: float, minimum: float) -> Any:
    values = [v for deco in ("resources", "batch") if (v := _value(node, deco, key, minimum)) is not None]
    return max(values) if values else default


def _text(node: StepNode, key: str) -> str | None:
    found = node.decorator("batch")
    value = found.args.get(key) if found is not None else None
    return str(value) if value else None


def _whole(node: StepNode, key: str) -> int | None:
    value = _value(node, "batch", key, 0)
    return None if value is None else int(value)


def step_compute(node: StepNode) -> StepCompute:
    """The compute `node` asks for (defaults: 1 vCPU, 4096 MiB, no GPU)."""
    gpu = _largest(node, "gpu", 0, 0)
    if int(gpu) != gpu:
        raise CompileError(f"step {node.name!r}: gpu={gpu!r} must be a whole number")
    pypi = node.decorator("pypi")
    packages = pypi.args.get("packages") if pypi is not None else None
    if pypi is not None and not isinstance(packages, dict):
        raise CompileError(f"step {node.name!r}: @pypi(packages=...) is not a literal dict",
                           hint='write packages={"name": "version"}')
    return StepCompute(
        on_batch=node.decorator("batch") is not None,
        cpu=_largest(node, "cpu", DEFAULT_CPU, 0.25),
        memory=int(_largest(node, "memory", DEFAULT_MEMORY_MIB, 4)),
        gpu=int(gpu),
        queue=_text(node, "queue"),
        image=_text(node, "image"),
        iam_role=_text(node, "iam_role"),
        shared_memory=_whole(node, "shared_memory"),
        max_swap=_whole(node, "max_swap"),
        swappiness=_whole(node, "swappiness"),
        pypi=tuple(sorted((str(k), str(v or "")) for k, v in packages.items())) if pypi is not None else None,
        python=str(pypi.args.get("python")) if pypi is not None and pypi.args.get("python") else None,
    )


def linux_parameters(c: StepCompute) -> dict[str, int]:
    """Batch `linuxParameters` for `/dev/shm` and swap (empty when the step asks for none)."""
    params = {"sharedMemorySize": c.shared_memory, "maxSwap": c.max_swap, "swappiness": c.swappiness}
    return {k: v for k, v in params.items() if v is not None}
