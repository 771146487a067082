"""Where an object of the client lives: a pathspec's parts, the datastore of the scope that holds a run, the runs
and flows in scope, and, when a run or flow is not there, whether it is in another namespace (`NamespaceMismatch`)
or nowhere (`NotFound`). The objects (`objects.py`) wrap what is found here; the queries stay apart from them.
"""

from __future__ import annotations

from branchline.client.scope import Scope, run_at
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import RunRecord
from branchline.errors import ArtifactError


class NotFound(ArtifactError):
    """An object that exists in no namespace of the datastore (Metaflow's MetaflowNotFound)."""


class NamespaceMismatch(ArtifactError):
    """An object that exists, but not in the current namespace (Metaflow's MetaflowNamespaceMismatch)."""


def split_pathspec(pathspec: str, parts: int, example: str) -> list[str]:
    pieces = pathspec.split("/") if isinstance(pathspec, str) else []
    if len(pieces) != parts or not all(pieces):
        raise NotFound(f"{pathspec!r} is not a pathspec of the form {example}")
    return pieces


def find_run(flow: str, run_id: str, where: Scope) -> tuple[FlowDatastore, RunRecord]:
    """The run in scope; else why not: in another namespace (which) or nowhere."""
    found = [at for ds in where.datastores() if (at := run_at(ds, flow, run_id)) is not None]
    if len(found) > 1:
        names = ", ".join(ds.namespace for ds, _ in found)
        raise NamespaceMismatch(f"run {flow}/{run_id} exists in several namespaces ({names})",
                                hint="choose one: namespace('<namespace>')")
    if found:
        return found[0]
    others = [ds.namespace for ds in where.elsewhere() if ds.read_run_record(flow, run_id) is not None]
    if others:
        raise NamespaceMismatch(
            f"run {flow}/{run_id} is not in namespace {where.label} (it is in {', '.join(others)})",
            hint=f"switch with namespace('{others[0]}'), or namespace(None) to see every namespace",
        )
    raise NotFound(f"run {flow}/{run_id} does not exist in {where.storage.url}")


def require_flow(name: str, where: Scope) -> None:
    """Flow `name` has a run in scope; else why not: runs only in other namespaces (which), or none at all."""
    if not any(ds.list_runs(name) for ds in where.datastores()):
        others = [ds.namespace for ds in where.elsewhere() if ds.list_runs(name)]
        if others:
            raise NamespaceMismatch(
                f"flow {name} has no run in namespace {where.label} (it has runs in {', '.join(others)})",
                hint=f"switch with namespace('{others[0]}'), or namespace(None) to see every namespace",
            )
        raise NotFound(f"flow {name} has no run in {where.storage.url}")


def runs_in_scope(flow: str, where: Scope) -> list[tuple[str, FlowDatastore, RunRecord]]:
    """(run id, its datastore, its record) of every run of `flow` in scope, newest first (ties: by run id)."""
    found = []
    for ds in where.datastores():
        for run_id in ds.list_runs(flow):
            if (at := run_at(ds, flow, run_id)) is not None:
                found.append((at[1].started, run_id, *at))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [(run_id, there, record) for _, run_id, there, record in found]


def flows_in_scope(where: Scope) -> list[str]:
    """The names of the flows with a run in scope, sorted."""
    return sorted({name for ds in where.datastores() for name in ds.list_flows() if ds.list_runs(name)})
