"""Where a step runs and with what: `@batch` (an AWS Batch job, from a laptop run or a deployment) and `@pypi`
(extra packages for one step, in a dependency-hashed image on Batch and a matching virtualenv locally);
`@pypi_base` gives every step of a flow the same packages.

Like the other decorators they only record their arguments; the runtime and the compiler read them from the
graph (`aws.compile.resources.step_compute`), so a step behaves alike when run from the laptop and deployed.
"""

from __future__ import annotations

import re
from typing import Any

from branchline.authoring.decorators import DECORATORS_ATTR, STEP_MARK, F, _positive, _recorder

_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9_,.-]+\])?")
_OP = r"(==|>=|<=|~=|!=|>|<)"
_VERSION_SPEC = re.compile(rf"{_OP}?\s*[A-Za-z0-9.*+!_-]+(\s*,\s*{_OP}\s*[A-Za-z0-9.*+!_-]+)*")
_PYTHON = re.compile(r"3\.\d{1,2}")


def batch(
    func: F | None = None,
    *,
    cpu: float = 1,
    memory: int = 4096,
    gpu: int = 0,
    queue: str | None = None,
    image: str | None = None,
    iam_role: str | None = None,
    shared_memory: int | None = None,
    max_swap: int | None = None,
    swappiness: int | None = None,
) -> Any:
    """Run the step as an AWS Batch job (Metaflow's `@batch`): vCPUs, memory in MiB, GPUs, and optionally the
    job queue, the image, the job role, `/dev/shm` size and swap (MiB). With `@resources` on the same step, the
    larger of each value wins."""
    _positive("batch", "cpu", cpu, allow_zero=False)
    _positive("batch", "memory", memory, allow_zero=False)
    _positive("batch", "gpu", gpu)
    for field, value in (("shared_memory", shared_memory), ("max_swap", max_swap), ("swappiness", swappiness)):
        if value is not None:
            _positive("batch", field, value)
    if swappiness is not None and swappiness > 100:
        raise TypeError("@batch(swappiness=...) must be from 0 to 100")
    for field, value in (("queue", queue), ("image", image), ("iam_role", iam_role)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise TypeError(f"@batch({field}=...) must be a non-empty string")
    args = {
        "cpu": cpu, "memory": memory, "gpu": gpu, "queue": queue, "image": image, "iam_role": iam_role,
        "shared_memory": shared_memory, "max_swap": max_swap, "swappiness": swappiness,
    }  # fmt: skip
    deco = _recorder("batch", args)
    return deco(func) if func is not None else deco


def _pypi_args(name: str, packages: dict[str, str] | None, python: str | None) -> dict[str, Any]:
    """`@pypi`'s / `@pypi_base`'s arguments, checked; the record the graph keeps."""
    if packages is None:
        packages = {}
    if not isinstance(packages, dict):
        raise TypeError(f'@{name}(packages=...) must be a dict such as {{"pandas": "2.2.2"}}')
    for package, spec in packages.items():
        if not isinstance(package, str) or not _PACKAGE.fullmatch(package):
            raise TypeError(f"@{name}(packages=...): {package!r} is not a package name")
        if not isinstance(spec, str) or (spec.strip() and not _VERSION_SPEC.fullmatch(spec.strip())):
            raise TypeError(f"@{name}(packages=...): version of {package} must be a string such as '2.2.2' or '>=2'")
    if python is not None and (not isinstance(python, str) or not _PYTHON.fullmatch(python)):
        raise TypeError(f"@{name}(python=...) must be a version such as '3.11'")
    return {"packages": dict(sorted(packages.items())), "python": python}


def pypi(func: F | None = None, *, packages: dict[str, str] | None = None, python: str | None = None) -> Any:
    """Extra packages this step needs (`{"name": "version spec"}`, "" for any version), installed on top of the
    project's environment: a separate image on Batch, a virtualenv built once per hash on this machine.
    `python` must match the interpreter the step runs with (the image's, or this machine's)."""
    deco = _recorder("pypi", _pypi_args("pypi", packages, python))
    return deco(func) if func is not None else deco


def pypi_base(cls: type | None = None, *, packages: dict[str, str] | None = None, python: str | None = None) -> Any:
    """Packages every step of the flow needs (Metaflow's `@pypi_base`): each step gets them as its `@pypi`; a
    step's own `@pypi` adds to them, its versions and `python` winning. Steps with equal sets share one image."""
    base = _pypi_args("pypi_base", packages, python)

    def apply(flow_cls: type) -> type:
        for value in vars(flow_cls).values():
            if callable(value) and getattr(value, STEP_MARK, False):
                own = getattr(value, DECORATORS_ATTR, {}).get("pypi") or {"packages": {}, "python": None}
                _recorder("pypi", {
                    "packages": dict(sorted({**base["packages"], **own["packages"]}.items())),
                    "python": own["python"] or base["python"],
                })(value)  # fmt: skip
        return flow_cls

    return apply(cls) if cls is not None else apply


def pypi_requirements(packages: dict[str, str]) -> list[str]:
    """`{"pandas": "2.2.2", "x": ">=1"}` → pip requirement lines (a bare version means `==`)."""
    lines = []
    for name, spec in sorted(packages.items()):
        spec = (spec or "").strip()
        if spec and spec[0].isdigit():
            spec = f"=={spec}"
        lines.append(f"{name}{spec}")
    return lines
