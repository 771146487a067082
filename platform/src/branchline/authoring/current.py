"""`current`: where the running task is (flow, run, step, task, retry count, namespace)."""

from __future__ import annotations

from typing import Any


class Current:
    """Read-only view of the running task; every attribute is None outside a task."""

    _FIELDS = (
        "flow_name",
        "run_id",
        "step_name",
        "task_id",
        "retry_count",
        "namespace",
        "origin_run_id",
        "tracking_run_id",
        "username",
        "project_name",
        "branch_name",
        "project_flow_name",
        "is_production",
        "is_user_branch",
    )
    """`project_name` & co. are set for `@project` flows only, as in Metaflow (None otherwise)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def _set(self, **values: Any) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._FIELDS:
            return self._values.get(name)
        raise AttributeError(f"current has no attribute {name!r}")

    @property
    def pathspec(self) -> str | None:
        v = self._values
        if not v:
            return None
        return f"{v['flow_name']}/{v['run_id']}/{v['step_name']}/{v['task_id']}"

    @property
    def is_running_flow(self) -> bool:
        return bool(self._values)

    def __repr__(self) -> str:
        return f"current({self.pathspec or 'not in a task'})"


current = Current()
