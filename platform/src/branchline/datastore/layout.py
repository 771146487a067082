"""Where everything lives under a datastore root. Pure string functions, the one place that knows the layout::

    <ns>/objects/<sha[:2]>/<sha>                              pickled artifact values, once per namespace
    <ns>/runs/<flow>/<run>/run.json                           the run record
    <ns>/runs/<flow>/<run>/<step>/<task>/meta.json            the task record (written when an attempt ends)
    <ns>/runs/<flow>/<run>/<step>/<task>/artifacts.json       name -> sha (written before meta.json)
    <ns>/runs/<flow>/<run>/<step>/<task>/foreach-items.json   the items a Distributed Map reads (ItemReader)
    <ns>/runs/<flow>/<run>/<step>/<task>/foreach-values.bin   a foreach's values, each read alone by its index
    <ns>/runs/<flow>/<run>/<step>/<task>/logs/<attempt>.{out,err}

The AWS compiler builds the foreach items key inside a state machine (`States.Format` over the run id and
task id): it passes format slots for those two parts to `foreach_items_key`.
"""

from __future__ import annotations

RUN_ELSEWHERE = "elsewhere.json"
"""in a laptop's local datastore: where a run with steps on Batch keeps its documents (S3)"""
RUN_RECORD = "run.json"
TASK_RECORD = "meta.json"
TASK_ARTIFACTS = "artifacts.json"
FOREACH_ITEMS = "foreach-items.json"
FOREACH_VALUES = "foreach-values.bin"


def object_key(namespace: str, sha: str) -> str:
    return f"{namespace}/objects/{sha[:2]}/{sha}"


def flows_key(namespace: str) -> str:
    return f"{namespace}/runs"


def runs_key(namespace: str, flow: str) -> str:
    return f"{flows_key(namespace)}/{flow}"


def run_key(namespace: str, flow: str, run_id: str) -> str:
    return f"{runs_key(namespace, flow)}/{run_id}"


def step_key(namespace: str, flow: str, run_id: str, step: str) -> str:
    return f"{run_key(namespace, flow, run_id)}/{step}"


def task_key(namespace: str, flow: str, run_id: str, step: str, task_id: str) -> str:
    return f"{step_key(namespace, flow, run_id, step)}/{task_id}"


def foreach_items_key(namespace: str, flow: str, run_id: str, step: str, task_id: str) -> str:
    return f"{task_key(namespace, flow, run_id, step, task_id)}/{FOREACH_ITEMS}"


def foreach_values_key(namespace: str, flow: str, run_id: str, step: str, task_id: str) -> str:
    """The values a foreach task fanned out over, written once; item `i` is read by its offsets
    (`datastore.indexed`), so a foreach task's child reads its own value and nothing else."""
    return f"{task_key(namespace, flow, run_id, step, task_id)}/{FOREACH_VALUES}"


def log_key(namespace: str, flow: str, run_id: str, step: str, task_id: str, attempt: int, stream: str) -> str:
    return f"{task_key(namespace, flow, run_id, step, task_id)}/logs/{attempt}.{stream}"
