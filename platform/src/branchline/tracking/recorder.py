"""The recorder: a background process that mirrors a local flow run into MLflow.

Why a process: importing MLflow costs ~2 s and creating a fresh sqlite store ~2 s more. The local
runtime starts the recorder at run start (a cheap Popen) and carries on; the recorder pays those costs
while the first steps run. It creates the parent run, publishes it in `mlflow.json` (tasks that use
mlflow wait for that file), then polls the datastore and records every finished task as a nested run.
When run.json says the run is over and every task is recorded, it ends the parent run and exits 0.

Everything is bounded: an unreachable server fails after a short retry (exit 2, `error` in
mlflow.json, one line on stderr naming the URI), a runtime that died leaves the run KILLED.

This module is imported by the runtime: mlflow only in the recorder process (through `connect`), never at
module level.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from branchline.aws.session import client
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import LocalStorage, storage_from_url
from branchline.errors import BranchlineError, ServiceUnreachable
from branchline.tracking.connect import TrackingError, TrackingSession, connect
from branchline.tracking.runs import close_parent, open_parent, read_link, record_task, write_link
from branchline.tracking.summary import summarize_before_close
from branchline.tracking.tags import FINAL_RUN_STATUSES, FINAL_TASK_STATUSES, iso_to_ms

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE, EXIT_ORPHANED = 0, 1, 2, 3
RUN_DOC_WAIT = 60.0  # seconds the recorder waits for run.json to appear
GRACE = 30.0  # seconds a finished run's unfinished tasks are waited for before they count as KILLED


class RecorderProcess(subprocess.Popen):  # type: ignore[type-arg]
    """The recorder's Popen, remembering which run it records (for `wait_for_recorder`)."""

    datastore_url: str
    namespace: str
    flow: str
    run_id: str
    tracking_uri: str


def start_recorder(
    *,
    datastore_url: str,
    namespace: str,
    flow: str,
    run_id: str,
    project: str,
    tracking_uri: str,
    log_path: str | Path | None = None,
    poll_interval: float | None = None,
    detached: bool = False,
) -> subprocess.Popen:  # type: ignore[type-arg]
    """Spawn `python -m branchline.tracking.recorder` for one run and return at once.

    Its own session (a Ctrl-C of the run does not kill it mid-write; it notices the run's end or the
    runtime's death itself). MLflow's chatter goes to `log_path` (default: `mlflow-recorder.log` in
    the run's folder of a local datastore); one-line errors go to this process's stderr.
    """
    argv = [
        sys.executable,
        "-m",
        "branchline.tracking.recorder",
        "--datastore-url",
        datastore_url,
        "--namespace",
        namespace,
        "--flow",
        flow,
        "--run-id",
        run_id,
        "--project",
        project,
        "--tracking-uri",
        tracking_uri,
        "--parent-pid",
        str(os.getpid()),
    ]
    if log_path is not None:
        argv += ["--log-file", str(log_path)]
    if poll_interval is not None:
        argv += ["--poll-interval", str(poll_interval)]
    # Detached (nobody waits for it): keep no handle on the caller's stdout/stderr, or a caller that reads
    # them to the end (a pipe, CI, subprocess.run) would wait for the recorder too. Errors still reach the
    # log file and mlflow.json.
    quiet = subprocess.DEVNULL if detached else None
    proc = RecorderProcess(argv, stdin=subprocess.DEVNULL, stdout=quiet, stderr=quiet, start_new_session=True)
    proc.datastore_url, proc.namespace, proc.flow = datastore_url, namespace, flow
    proc.run_id, proc.tracking_uri = run_id, tracking_uri
    return proc


def wait_for_recorder(proc: subprocess.Popen, timeout: float = 120.0) -> dict[str, Any]:  # type: ignore[type-arg]
    """Wait for the recorder to finish; return mlflow.json. Raises ServiceUnreachable / TrackingError.

    On timeout the recorder is terminated (the parent run stays RUNNING) and TrackingError says so.
    """
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise TrackingError(
            f"the MLflow recorder did not finish within {timeout:g}s and was stopped",
            hint="the MLflow run may be left RUNNING; check the tracking server and mlflow-recorder.log",
        ) from None
    link = _read_link(proc) if isinstance(proc, RecorderProcess) else None
    if code == EXIT_OK and (link is None or "error" not in link):
        return link or {}
    message = (link or {}).get("error") or f"the MLflow recorder exited with status {code}"
    if code == EXIT_UNREACHABLE:
        raise ServiceUnreachable(message)
    raise TrackingError(message)


def _read_link(proc: RecorderProcess) -> dict[str, Any] | None:
    ds = FlowDatastore(storage_from_url(proc.datastore_url, s3_client=_s3), proc.namespace)
    return read_link(ds, proc.flow, proc.run_id)


def _s3() -> Any:
    """A run with steps on Batch keeps its documents in S3."""
    return client("s3")


# ----- the recorder process
class Recorder:
    """Polls one run's documents and mirrors them into MLflow (one instance per process)."""

    def __init__(self, ds: FlowDatastore, args: argparse.Namespace) -> None:
        self.ds, self.args = ds, args
        self.uri: str = args.tracking_uri
        self.link: dict[str, Any] = {}
        # (step, task_id) -> (attempt, status, mlflow_run_id) already recorded
        self.recorded: dict[tuple[str, str], tuple[Any, str, Any]] = {}

    def parent_alive(self) -> bool:
        return os.getppid() == self.args.parent_pid

    def wait_run_doc(self) -> dict[str, Any]:
        deadline = time.monotonic() + RUN_DOC_WAIT
        while True:
            doc = self.ds.read_run(self.args.flow, self.args.run_id)
            if doc is not None:
                return doc
            if time.monotonic() > deadline or not self.parent_alive():
                raise TrackingError(f"run {self.args.flow}/{self.args.run_id} has no run.json in the datastore")
            time.sleep(self.args.poll_interval)

    def sync(self, session: TrackingSession, run_doc: dict[str, Any], *, give_up: bool = False) -> bool:
        """Record every newly finished task; True when no task is still pending.

        `give_up`: the run is over but some task never wrote a final status (its worker was killed
        hard): record those as KILLED rather than wait forever.
        """
        flow, run_id = self.args.flow, self.args.run_id
        complete = True
        for step in run_doc.get("steps") or []:
            for task_id in self.ds.list_tasks(flow, run_id, step):
                meta = self.ds.read_task_meta(flow, run_id, step, task_id) or {}
                if meta.get("status") not in FINAL_TASK_STATUSES:
                    if not give_up:
                        complete = False
                        continue
                    meta = {**meta, "status": "killed"}
                state = (meta.get("attempt"), meta["status"], meta.get("mlflow_run_id"))
                if self.recorded.get((step, task_id)) == state:
                    continue
                record_task(session, self.link, run_doc, step, task_id, meta)
                self.recorded[(step, task_id)] = state
        return complete

    def run(self) -> int:
        session = connect(self.uri)
        run_doc = self.wait_run_doc()
        self.link = open_parent(session, self.ds, run_doc, self.args.project)
        final_since: float | None = None
        while True:
            run_doc = self.ds.read_run(self.args.flow, self.args.run_id) or run_doc
            final = run_doc.get("status") in FINAL_RUN_STATUSES
            alive = self.parent_alive()  # a runtime that wrote its final status and exited: re-read below
            if self.sync(session, run_doc) and final:
                status = FINAL_RUN_STATUSES[run_doc["status"]]
                break
            if final:
                # the runtime may exit right after the run (recording goes on in the background)
                final_since = final_since or time.monotonic()
                if time.monotonic() - final_since > self.args.grace:
                    self.sync(session, run_doc, give_up=True)
                    status = FINAL_RUN_STATUSES[run_doc["status"]]
                    break
            elif not alive:
                run_doc = self.ds.read_run(self.args.flow, self.args.run_id) or run_doc
                if run_doc.get("status") in FINAL_RUN_STATUSES:
                    continue  # it finished just before exiting
                self.sync(session, run_doc, give_up=True)
                status = "KILLED"
                break
            time.sleep(self.args.poll_interval)
        summarize_before_close(session, self.ds, self.link, {**run_doc, "project": self.args.project})
        close_parent(session, self.link["run_id"], status, iso_to_ms(run_doc.get("finished")))
        write_link(self.ds, self.args.flow, self.args.run_id, {**self.link, "recorded": True, "status": status})
        return EXIT_ORPHANED if status == "KILLED" else EXIT_OK


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m branchline.tracking.recorder", description=__doc__)
    for name in ("datastore-url", "namespace", "flow", "run-id", "project", "tracking-uri"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--parent-pid", type=int, default=os.getppid())
    parser.add_argument("--log-file", default=None)
    parser.add_argument("--poll-interval", type=float, default=None)
    parser.add_argument("--grace", type=float, default=GRACE)
    args = parser.parse_args(argv)
    if args.poll_interval is None:
        args.poll_interval = 1.0 if args.datastore_url.startswith("s3://") else 0.2
    return args


def _redirect_output(ds: FlowDatastore, args: argparse.Namespace) -> Any:
    """Send MLflow's logging to the log file; keep a handle on the real stderr for our one-liners."""
    user_err = os.fdopen(os.dup(2), "w", buffering=1)
    log_file = args.log_file
    if log_file is None and isinstance(ds.storage, LocalStorage):
        log_file = ds.storage.local_path(f"{ds.run_key(args.flow, args.run_id)}/mlflow-recorder.log")
    target = Path(log_file) if log_file else Path(os.devnull)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return user_err


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    with contextlib.suppress(OSError):
        os.nice(10)  # background work: the run's own tasks come first on a busy laptop
    ds = FlowDatastore(storage_from_url(args.datastore_url, s3_client=_s3), args.namespace)
    user_err = _redirect_output(ds, args)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    try:
        return Recorder(ds, args).run()
    except BaseException as exc:
        code = EXIT_UNREACHABLE if isinstance(exc, ServiceUnreachable) else EXIT_FAILED
        if isinstance(exc, BranchlineError):
            message = exc.message
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            message = f"the MLflow recorder of {args.flow}/{args.run_id} failed: {type(exc).__name__}: {first}"
        traceback.print_exc()  # into the log file
        print(f"branchline: {message}", file=user_err)
        try:
            link = read_link(ds, args.flow, args.run_id) or {"tracking_uri": args.tracking_uri}
            write_link(ds, args.flow, args.run_id, {**link, "error": message})
        except Exception:  # the datastore itself is broken: the exit code still says it
            traceback.print_exc()
        return code


if __name__ == "__main__":
    sys.exit(main())
