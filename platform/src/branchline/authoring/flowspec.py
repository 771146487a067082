"""`FlowSpec`: the base class data scientists subclass, with Metaflow's semantics.

A flow instance is a task's view of the run: attribute reads fall through to the artifacts
inherited from the parent task (loaded lazily, by content hash), attribute writes become this
task's artifacts. Instantiating a flow from `__main__` (`MyFlow()`) starts its command line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from branchline.authoring.parameters import Parameter
from branchline.datastore.artifacts import ArtifactRef
from branchline.datastore.view import ArtifactSource
from branchline.errors import ArtifactError, FlowError

_IMMUTABLE = (int, float, complex, bool, str, bytes, tuple, frozenset, type(None))
_RESERVED = {"next", "input", "index", "merge_artifacts", "foreach_stack", "name"}


class ForeachFrame(NamedTuple):
    """One enclosing foreach of a task: its position, the foreach's width, and how to load its own item."""

    index: int
    num_splits: int
    item: Callable[[], Any]
    """loads this task's item, and only it (`RunView.foreach_value`), when first asked for"""

    @property
    def value(self) -> Any:
        return self.item()


class ArtifactView:
    """Read-only access to the artifacts of one input task of a join (`for inp in inputs: inp.x`)."""

    def __init__(self, source: ArtifactSource, step_name: str) -> None:
        object.__setattr__(self, "_source", source)
        object.__setattr__(self, "_step_name", step_name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._source.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise ArtifactError(f"inputs are read-only: assign {name!r} on self in the join step instead")

    def __repr__(self) -> str:
        return f"<inputs of {self._source.label}>"


class Inputs(Sequence[ArtifactView]):
    """The `inputs` of a join step: iterable, indexable, and `inputs.<step>` for static splits."""

    def __init__(self, views: list[ArtifactView]) -> None:
        self._views = views

    def __getitem__(self, index: Any) -> Any:
        return self._views[index]

    def __len__(self) -> int:
        return len(self._views)

    def __iter__(self) -> Iterator[ArtifactView]:
        return iter(self._views)

    def __getattr__(self, name: str) -> ArtifactView:
        if name.startswith("_"):
            raise AttributeError(name)
        for view in self._views:
            if view._step_name == name:
                return view
        names = ", ".join(v._step_name for v in self._views)
        raise AttributeError(f"inputs has no branch {name!r} (branches: {names})")


class FlowSpec:
    """Base class of every flow. Subclass it, add `@step` methods from `start` to `end`."""

    def __init__(self, use_cli: bool = True) -> None:
        if use_cli:
            # The one import of a higher layer from a lower one, and deliberate: as in Metaflow, a flow file run
            # as a script (`MyFlow()` under `__main__`) starts its command line. Lazy, so the layers stay acyclic.
            from branchline.runtime.flow_cli import main

            main(type(self), sys.argv[1:])

    # ----- internal construction (the task entry point uses this, never the CLI)
    @classmethod
    def _bl_for_task(
        cls,
        *,
        params: dict[str, Any],
        source: ArtifactSource,
        foreach_frames: list[ForeachFrame] | None = None,
        step_name: str = "",
    ) -> FlowSpec:
        """The task's view of the run: inherited artifacts from `source`, its own assignments on top."""
        self = cls.__new__(cls)
        set_ = object.__setattr__
        set_(self, "_bl_params", dict(params))
        set_(self, "_bl_source", source)
        set_(self, "_bl_assigned", {})
        set_(self, "_bl_transition", None)
        set_(self, "_bl_frames", list(foreach_frames or []))
        set_(self, "_bl_step", step_name)
        return self

    # ----- artifacts
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            source: ArtifactSource = object.__getattribute__(self, "_bl_source")
        except AttributeError:
            raise AttributeError(name) from None
        return source.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_bl_"):
            raise AttributeError(f"{name!r} is reserved by branchline")
        if name in _RESERVED:
            raise ArtifactError(f"self.{name} is reserved by the flow API; choose another artifact name")
        cls_attr = getattr(type(self), name, None)
        if isinstance(cls_attr, Parameter):
            raise ArtifactError(f"self.{name} is a parameter and cannot be assigned")
        self._bl_assigned[name] = value

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_"):
            assigned = object.__getattribute__(self, "__dict__").get("_bl_assigned")
            if assigned is not None and name in assigned:
                return assigned[name]
        return object.__getattribute__(self, name)

    def __delattr__(self, name: str) -> None:
        self._bl_assigned.pop(name, None)
        self._bl_source.refs.pop(name, None)
        self._bl_source.loaded.pop(name, None)

    # ----- transitions
    def next(self, *targets: Any, foreach: str | None = None, **unsupported: Any) -> None:
        """Name the step(s) that run after this one; `foreach="var"` fans out over a list."""
        if unsupported:
            raise FlowError(f"self.next() got unsupported arguments: {', '.join(unsupported)}")
        if self._bl_transition is not None:
            raise FlowError(f"step {self._bl_step!r} called self.next() more than once")
        names = []
        for target in targets:
            func = getattr(target, "__func__", None)
            if func is None or not getattr(func, "_branchline_step", False):
                raise FlowError(f"self.next() in step {self._bl_step!r} takes steps (self.<step>), got {target!r}")
            names.append(func.__name__)
        if foreach is not None:
            try:
                values = getattr(self, foreach)
            except AttributeError:
                raise FlowError(
                    f"step {self._bl_step!r}: foreach={foreach!r} names no artifact; set self.{foreach} first"
                ) from None
            try:
                count = len(values)
            except TypeError:
                raise FlowError(
                    f"step {self._bl_step!r}: foreach over self.{foreach} needs a list-like value, "
                    f"got {type(values).__name__}"
                ) from None
            if count == 0:
                raise FlowError(f"step {self._bl_step!r}: foreach over self.{foreach} has no items")
        object.__setattr__(self, "_bl_transition", (tuple(names), foreach))

    # ----- foreach
    @property
    def input(self) -> Any:
        """The item of the innermost foreach this task processes."""
        if not self._bl_frames:
            raise AttributeError("self.input exists only inside a foreach")
        return self._bl_frames[-1].value

    @property
    def index(self) -> int:
        """The position of this task in the innermost foreach."""
        if not self._bl_frames:
            raise AttributeError("self.index exists only inside a foreach")
        return self._bl_frames[-1].index

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """(index, number of splits, value) for every enclosing foreach, outermost first."""
        return [(f.index, f.num_splits, f.value) for f in self._bl_frames]

    # ----- joins
    def merge_artifacts(
        self, inputs: Inputs, exclude: Iterable[str] | None = None, include: Iterable[str] | None = None
    ) -> None:
        """Copy artifacts that all inputs agree on (same content hash) into this step.

        Artifacts already assigned in the join win; a name whose values differ between inputs and
        is neither assigned nor excluded is an error naming it.
        """
        if exclude and include:
            raise ArtifactError("merge_artifacts() takes exclude= or include=, not both")
        excluded = set(exclude or ())
        wanted = set(include) if include is not None else None
        candidates: dict[str, set[str]] = {}
        owners: dict[str, ArtifactRef] = {}
        missing_from: dict[str, int] = {}
        for view in inputs:
            source: ArtifactSource = view._source
            for name, ref in source.refs.items():
                candidates.setdefault(name, set()).add(ref.sha)
                owners[name] = ref
                missing_from[name] = missing_from.get(name, 0) + 1
        conflicts = []
        for name, shas in sorted(candidates.items()):
            if name in excluded or (wanted is not None and name not in wanted):
                continue
            if name in self._bl_assigned:
                continue
            if len(shas) > 1:
                conflicts.append(name)
                continue
            self._bl_source.refs[name] = owners[name]
        if wanted:
            absent = sorted(wanted - set(candidates))
            if absent:
                raise ArtifactError(f"merge_artifacts(include=...) names artifacts no input has: {', '.join(absent)}")
        if conflicts:
            raise ArtifactError(
                f"step {self._bl_step!r} cannot merge artifacts whose values differ between inputs: "
                f"{', '.join(conflicts)}",
                hint="assign them in the join before merge_artifacts(), or pass exclude=[...]",
            )

    # ----- used by the task entrypoint
    def _bl_outputs(self) -> tuple[dict[str, Any], dict[str, ArtifactRef]]:
        """Values to store (assigned, or loaded and possibly mutated) and refs to pass through."""
        source = self._bl_source
        to_save: dict[str, Any] = {}
        for name, value in source.loaded.items():
            if name in source.refs and not isinstance(value, _IMMUTABLE):
                to_save[name] = value
        to_save.update(self._bl_assigned)
        passthrough = {n: r for n, r in source.refs.items() if n not in to_save}
        return to_save, passthrough
