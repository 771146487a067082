"""`branchline task`: run one task in a step container (AWS Batch) or any fresh process.

Reads its inputs from BRANCHLINE_* environment variables (set by the job definition and the
state machine's container overrides), fetches the code package, runs the task through the same
`execute_task` as the local runtime, and exits non-zero on failure (the traceback is in the
container's log, hence in CloudWatch).
"""

from __future__ import annotations

import json
import os
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from branchline.errors import ConfigError


@dataclass
class TaskEnv:
    flow_file: str
    step: str
    run_id: str
    task_id: str
    namespace: str
    datastore: str
    project: str | None = None
    flow: str | None = None
    code_package: str | None = None
    params_json: str | None = None
    tracking_uri: str | None = None
    max_attempts: int = 1
    attempt: int = 0
    catch_fallback: bool = False
    execution_arn: str | None = None
    batch_job_id: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str], overrides: dict[str, Any]) -> TaskEnv:
        def pick(name: str, key: str, required: bool = True) -> Any:
            value = overrides.get(key) or env.get(name)
            if required and not value:
                raise ConfigError(f"the task entrypoint needs {name} (or --{key.replace('_', '-')})")
            return value

        attempt = int(env.get("AWS_BATCH_JOB_ATTEMPT", "1") or "1") - 1
        return cls(
            flow_file=pick("BRANCHLINE_FLOW_FILE", "flow_file"),
            step=pick("BRANCHLINE_STEP", "step"),
            run_id=pick("BRANCHLINE_RUN_ID", "run_id"),
            task_id=pick("BRANCHLINE_TASK_ID", "task_id", required=False) or "0",
            namespace=pick("BRANCHLINE_NAMESPACE", "namespace"),
            datastore=pick("BRANCHLINE_DATASTORE", "datastore"),
            project=pick("BRANCHLINE_PROJECT", "project", required=False),
            flow=pick("BRANCHLINE_FLOW", "flow", required=False),
            code_package=pick("BRANCHLINE_CODE_PACKAGE", "code_package", required=False),
            params_json=env.get("BRANCHLINE_PARAMS"),
            tracking_uri=env.get("BRANCHLINE_TRACKING_URI") or env.get("MLFLOW_TRACKING_URI"),
            max_attempts=int(env.get("BRANCHLINE_MAX_ATTEMPTS", "1") or "1"),
            attempt=max(0, attempt),
            catch_fallback=env.get("BRANCHLINE_CATCH_FALLBACK") == "1",
            execution_arn=env.get("BRANCHLINE_EXECUTION_ARN"),
            batch_job_id=env.get("AWS_BATCH_JOB_ID"),
        )


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract regular files and folders only, never outside `dest` (older Pythons lack filter="data")."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        if not (member.isfile() or member.isdir()) or (target != root and root not in target.parents):
            raise ConfigError(f"code package entry {member.name!r} is not a plain file inside the package")
    tar.extractall(dest)  # every member was checked above


def unpack_code_package(url: str, dest_root: Path) -> Path:
    """Download (s3:// or a local path) and unpack the code tarball; reuse it when already there."""
    name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".tar.gz")
    dest = dest_root / name
    if (dest / ".branchline-unpacked").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "code.tar.gz"
        if url.startswith("s3://"):
            from branchline.aws.session import client

            bucket, _, key = url[5:].partition("/")
            client("s3").download_file(bucket, key, str(archive))
        else:
            archive = Path(url)
        with tarfile.open(archive, "r:gz") as tar:
            _safe_extract(tar, dest)
    (dest / ".branchline-unpacked").touch()
    return dest


def run_from_env(env: dict[str, str] | None = None, **overrides: Any) -> int:
    from branchline.authoring.parameters import Parameter, declared_parameters
    from branchline.datastore.artifacts import FlowDatastore
    from branchline.datastore.storage import storage_from_url
    from branchline.runtime.loader import graph_from_class, load_flow_class
    from branchline.runtime.task import TaskSpec, execute_task, now_iso

    task = TaskEnv.from_env(dict(env if env is not None else os.environ), overrides)
    root = Path.cwd()
    if task.code_package:
        root = unpack_code_package(task.code_package, Path(tempfile.gettempdir()) / "branchline-code")
        os.chdir(root)
    flow_cls = load_flow_class(root / task.flow_file, task.flow)
    graph = graph_from_class(flow_cls)
    ds = FlowDatastore(storage_from_url(task.datastore), task.namespace)
    flow = graph.name
    doc = ds.read_run(flow, task.run_id)
    declared: dict[str, Parameter] = {p.name: p for p in declared_parameters(flow_cls)}
    if doc is None:
        if task.step != "start":
            raise ConfigError(f"run {flow}/{task.run_id} has no run document; its start task has not run")
        raw = json.loads(task.params_json) if task.params_json else {}
        params = {name: p.resolve(raw.get(name)) for name, p in declared.items()}
        doc = {
            "flow": flow,
            "run_id": task.run_id,
            "namespace": task.namespace,
            "project": task.project,
            "status": "running",
            "params": params,
            "started": now_iso(),
            "steps": list(graph.steps),
            "execution_arn": task.execution_arn,
            "flow_file": task.flow_file,
            "tracking_uri": task.tracking_uri,
            "runtime": "batch",
            "git": {"sha": os.environ.get("BRANCHLINE_GIT_SHA"), "branch": os.environ.get("BRANCHLINE_BRANCH")},
            "image": os.environ.get("BRANCHLINE_IMAGE"),
        }
        ds.write_run(flow, task.run_id, doc)
    else:
        params = dict(doc.get("params") or {})
    spec = TaskSpec(
        flow=flow,
        step=task.step,
        run_id=task.run_id,
        task_id=task.task_id,
        namespace=task.namespace,
        attempt=task.attempt,
        max_attempts=task.max_attempts,
        catch_fallback=task.catch_fallback,
        extra_meta={"batch_job_id": task.batch_job_id, "execution_arn": task.execution_arn},
    )
    tracking = None
    if task.tracking_uri:
        from branchline.tracking.task_run import TaskTracking

        tracking = TaskTracking(
            datastore=ds,
            namespace=task.namespace,
            project=task.project or doc.get("project") or "",
            flow=flow,
            run_id=task.run_id,
            step=task.step,
            task_id=task.task_id,
            attempt=task.attempt,
            tracking_uri=task.tracking_uri,
            tags={
                "branchline.batch_job_id": task.batch_job_id or "",
                "branchline.execution_arn": task.execution_arn or "",
            },
            mode="in_task",
        )
    print(f"branchline task {flow}/{task.run_id}/{task.step}/{task.task_id} attempt {task.attempt + 1}", flush=True)
    delay = float(os.environ.get("BRANCHLINE_RETRY_DELAY_SECONDS", "0") or 0)
    if task.attempt > 0 and delay > 0:  # Batch retries at once; @retry(minutes_between_retries=...) waits here
        import time

        time.sleep(delay)
    outcome = execute_task(flow_cls, graph, ds, spec, params, tracking=tracking)
    if outcome.ok and task.step == "end":
        ds.write_run(flow, task.run_id, {**doc, "status": "succeeded", "finished": now_iso()})
    elif not outcome.ok and task.attempt + 1 >= task.max_attempts:
        ds.write_run(flow, task.run_id, {**doc, "status": "failed", "finished": now_iso()})
        if tracking is not None:  # no recorder in containers: the last failed task closes the MLflow run
            from branchline.tracking.task_run import finish_flow_run

            try:
                finish_flow_run(tracking, failed=True)
            except Exception as exc:  # the task's own failure is what must be reported
                print(f"branchline: could not close the MLflow run: {exc}", file=sys.stderr)
    sys.stdout.flush()
    return 0 if outcome.ok else 1
