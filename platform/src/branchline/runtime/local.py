"""The local scheduler: runs a flow's DAG on this machine with parallel workers.

Each task runs in a forked child of this process: the flow module is imported once, so a task
costs a fork (milliseconds), not an interpreter start and an import. Foreach fan-out and splits
run concurrently up to `max_workers`; retries, timeouts (the worker is killed) and `@catch` are
honoured; `resume` clones the successful tasks of an earlier run and re-runs from the failure.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import sys
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from branchline.authoring.flowspec import FlowSpec
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import Status, TaskError, TaskRecord, now_iso, path_for, task_id_for
from branchline.datastore.storage import LocalStorage
from branchline.datastore.view import RunView
from branchline.errors import FlowError
from branchline.graph.model import FlowGraph
from branchline.runtime.display import Reporter
from branchline.runtime.entrypoint import TaskSpec, execute_task
from branchline.runtime.lineage import closed_split, input_tasks
from branchline.runtime.remote import RemoteTasks
from branchline.tracking.task_run import TaskTracking


@dataclass
class RunOptions:
    max_workers: int = 16
    run_id: str | None = None
    origin_run_id: str | None = None  # resume: clone successful tasks of this run
    resume_step: str | None = None  # resume: re-run from this step even if it succeeded
    quiet: bool = False
    echo_output: bool = True


@dataclass
class _Running:
    spec: TaskSpec
    pid: int
    started: float
    deadline: float | None
    timed_out: bool = False
    started_at: str = field(default_factory=now_iso)

    @property
    def fallback(self) -> bool:
        return self.spec.fallback is not None


@dataclass
class RunResult:
    run_id: str
    status: Status
    failed_task: TaskRecord | None = None
    cloned: int = 0


class LocalRunner:
    def __init__(
        self,
        flow_cls: type[FlowSpec],
        graph: FlowGraph,
        datastore: FlowDatastore,
        *,
        run_id: str,
        params: dict[str, Any],
        options: RunOptions,
        reporter: Reporter,
        tracking_factory: Callable[[TaskSpec], TaskTracking] | None = None,
        remote: RemoteTasks | None = None,
        logs: LocalStorage | None = None,
        exec_task: Callable[[TaskSpec], tuple[str, list[str], dict[str, str]] | None] | None = None,
    ) -> None:
        """`remote` runs the tasks of the steps it takes (Batch); `logs` is where local workers' output goes
        when the datastore is not a local directory; `exec_task` gives (program, argv, env) for a task that
        must run in another interpreter (a `@pypi` step's virtualenv): the forked worker execs it."""
        logs = logs or (datastore.storage if isinstance(datastore.storage, LocalStorage) else None)
        if logs is None:
            raise FlowError("the local runtime needs a local directory for its workers' logs")
        self.logs = logs
        self.remote = remote
        self.exec_task = exec_task
        self.flow_cls = flow_cls
        self.graph = graph
        self.ds = datastore
        self.run_id = run_id
        self.params = params
        self.options = options
        self.reporter = reporter
        self.tracking_factory = tracking_factory
        self.flow = graph.name
        self._ready: deque[tuple[str, str, int]] = deque()
        self._running: dict[int, _Running] = {}
        self._remote_running: dict[tuple[str, str], _Running] = {}
        self._arrivals: Counter[tuple[str, str]] = Counter()
        self._run = RunView(datastore, self.flow, run_id)  # finished foreach tasks' widths, read once
        self._cloned: set[tuple[str, str]] = set()
        self._failed: TaskRecord | None = None
        self._selector = selectors.DefaultSelector()
        self._closes = {n.name: closed_split(graph, n.name) for n in graph if n.is_join}
        self._forced = self._descendants(options.resume_step) if options.resume_step else set()

    # ----- graph walking
    def _descendants(self, step: str) -> set[str]:
        if step not in self.graph.steps:
            raise FlowError(f"resume --step {step!r}: no such step (steps: {', '.join(self.graph.steps)})")
        seen, todo = {step}, [step]
        while todo:
            for target in self.graph[todo.pop()].out_funcs:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    def _successors(self, step: str, task_id: str) -> None:
        node = self.graph[step]
        path = path_for(task_id)
        if node.type == "foreach":
            count = self._run.num_splits(step, task_id)
            self.reporter.expect(node.out_funcs[0], count)
            for i in range(count):
                self._ready.append((node.out_funcs[0], task_id_for((*path, i)), 0))
            return
        for target in node.out_funcs:
            target_node = self.graph[target]
            if not target_node.is_join:
                self.reporter.expect(target, 1)
                self._ready.append((target, task_id, 0))
                continue
            split = self.graph[self._closes[target]]
            join_path = path[:-1] if split.type == "foreach" else path
            join_id = task_id_for(join_path)
            self._arrivals[(target, join_id)] += 1
            needed = self._run.num_splits(split.name, join_id) if split.type == "foreach" else len(target_node.in_funcs)
            if self._arrivals[(target, join_id)] == needed:
                self.reporter.expect(target, 1)
                self._ready.append((target, join_id, 0))

    # ----- resume
    def _try_clone(self, step: str, task_id: str) -> bool:
        origin = self.options.origin_run_id
        if not origin or step in self._forced:
            return False
        inputs = input_tasks(self.graph, step, task_id, self._run.num_splits)
        if not all(i in self._cloned for i in inputs):
            return False
        if self.ds.clone_task(self.flow, origin, self.run_id, step, task_id) is None:
            return False
        self._cloned.add((step, task_id))
        return True

    # ----- workers
    def _max_attempts(self, step: str) -> int:
        retry = self.graph[step].decorator("retry")
        return int(retry.args.get("times", 0)) + 1 if retry else 1

    def _launch(self, step: str, task_id: str, attempt: int, *, fallback: TaskError | None = None) -> None:
        out_key = self.ds.log_key(self.flow, self.run_id, step, task_id, attempt, "out")
        err_key = self.ds.log_key(self.flow, self.run_id, step, task_id, attempt, "err")
        out_path, err_path = self.logs.local_path(out_key), self.logs.local_path(err_key)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        spec = TaskSpec(
            flow=self.flow,
            step=step,
            run_id=self.run_id,
            task_id=task_id,
            namespace=self.ds.namespace,
            attempt=attempt,
            max_attempts=self._max_attempts(step),
            fallback=fallback,
            origin_run_id=self.options.origin_run_id,
            log_paths=(str(out_path), str(err_path)),
        )
        timeout = self.graph[step].decorator("timeout")
        now = time.monotonic()
        deadline = now + float(timeout.args["seconds"]) if timeout and not fallback else None
        if self.remote is not None and fallback is None and self.remote.takes(step):
            spec = spec._replace(log_paths=())
            self.remote.launch(spec)
            self._remote_running[(step, task_id)] = _Running(spec, 0, now, deadline)
            self.reporter.started(step, task_id, attempt)
            return
        tracking = self.tracking_factory(spec) if self.tracking_factory else None
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.setpgid(0, 0)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                with open(out_path, "ab", buffering=0) as out, open(err_path, "ab", buffering=0) as err:
                    os.dup2(out.fileno(), 1)
                    os.dup2(err.fileno(), 2)
                command = self.exec_task(spec) if self.exec_task else None
                if command is not None:
                    os.execve(*command)
                record = execute_task(self.flow_cls, self.graph, self.ds, spec, self.params, tracking=tracking)
                code = 0 if record.succeeded else 1
            except BaseException:
                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            fd = -pid  # no pidfd: polled in _poll_without_pidfd
        else:
            self._selector.register(fd, selectors.EVENT_READ)
        self._running[fd] = _Running(spec, pid, now, deadline)
        self.reporter.started(step, task_id, attempt)

    def _reap(self, fd: int) -> None:
        running = self._running.pop(fd)
        if fd >= 0:
            self._selector.unregister(fd)
            os.close(fd)
        _, status = os.waitpid(running.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self._finished(running, code)

    def _poll_without_pidfd(self) -> None:
        for fd in [fd for fd in self._running if fd < 0]:
            pid, status = os.waitpid(self._running[fd].pid, os.WNOHANG)
            if pid:
                running = self._running.pop(fd)
                self._finished(running, os.waitstatus_to_exitcode(status))

    def _finished(self, running: _Running, code: int, reason: str | None = None) -> None:
        spec = running.spec
        step, task_id, attempt = spec.step, spec.task_id, spec.attempt
        duration = time.monotonic() - running.started
        record = self.ds.read_task_record(self.flow, self.run_id, step, task_id)
        if record is not None and record.attempt != attempt:
            record = None  # an earlier attempt's record: this one wrote none
        if code == 0 and record is not None and record.succeeded:
            self.reporter.finished(step, task_id, duration, caught=record.caught is not None)
            self._echo(spec)
            self._successors(step, task_id)
            return
        if self._failed is not None and not running.timed_out:
            self.ds.write_task_record(self._record_for_worker(running, record, Status.KILLED))
            return
        if running.timed_out:
            seconds = self.graph[step].decorator("timeout").args["seconds"]  # type: ignore[union-attr]
            error = TaskError("Timeout", f"timed out after {seconds} s (@timeout) and was killed")
            record = self._record_for_worker(running, record, Status.FAILED, error)
            self.ds.write_task_record(record)
        elif record is None or record.status is not Status.FAILED or record.error is None:
            error = TaskError("WorkerDied", reason or f"worker exited with code {code} before recording a result")
            record = self._record_for_worker(running, record, Status.FAILED, error)
            self.ds.write_task_record(record)
        message = record.error.message  # type: ignore[union-attr]
        self._echo(spec)
        attempts = self._max_attempts(step)
        if attempt + 1 < attempts and not running.fallback:
            # As Metaflow's local runtime: the next attempt starts at once (a laptop's Batch steps too);
            # minutes_between_retries is a deployed flow's Wait state (compile/asl.py), which the display says.
            retry = self.graph[step].decorator("retry")
            minutes = float(retry.args.get("minutes_between_retries") or 0) if retry else 0.0
            self.reporter.retrying(step, task_id, attempt + 1, attempts, message, aws_wait_seconds=60.0 * minutes)
            self._ready.append((step, task_id, attempt + 1))
            return
        if running.timed_out and self.graph[step].decorator("catch") and not running.fallback:
            self._launch(step, task_id, attempt, fallback=TaskError("Timeout", message))
            return
        self.reporter.failed(step, task_id, message)
        self._failed = record

    def _record_for_worker(
        self, running: _Running, record: TaskRecord | None, status: Status, error: TaskError | None = None
    ) -> TaskRecord:
        """The record of an attempt whose worker could not write it (killed, timed out, died)."""
        spec = running.spec
        base = record or TaskRecord(
            spec.flow, spec.run_id, spec.step, spec.task_id, status, attempt=spec.attempt,
            started=running.started_at, log_paths=spec.log_paths, origin_run_id=spec.origin_run_id,
        )  # fmt: skip
        return replace(base, status=status, finished=now_iso(), error=error or base.error)

    def _echo(self, spec: TaskSpec) -> None:
        if not self.options.echo_output or self.options.quiet or not spec.log_paths:
            return  # a remote task's lines were streamed as they came
        step, task_id = spec.step, spec.task_id
        path = self.logs.local_path(self.ds.log_key(self.flow, self.run_id, step, task_id, spec.attempt, "out"))
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return
        if text.strip():
            self.reporter.output(step, task_id, text)

    def _kill_running(self, reason: str = "another task of the run failed") -> None:
        for running in self._running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.pid, signal.SIGKILL)
        if self.remote is not None and self._remote_running:
            self.remote.terminate_all(reason)

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for running in self._running.values():
            if running.deadline is not None and now >= running.deadline and not running.timed_out:
                running.timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(running.pid, signal.SIGKILL)
        for running in self._remote_running.values():
            if running.deadline is not None and now >= running.deadline and not running.timed_out:
                running.timed_out = True
                self.remote.terminate(running.spec, "@timeout")  # type: ignore[union-attr]

    def _poll_remote(self) -> None:
        if self.remote is None or not self._remote_running:
            return
        for ended in self.remote.poll():
            running = self._remote_running.pop((ended.spec.step, ended.spec.task_id))
            self._finished(running, ended.code, ended.reason)

    def _busy(self) -> int:
        return len(self._running) + len(self._remote_running)

    # ----- main loop
    def execute(self) -> RunResult:
        self.reporter.expect("start", 1)
        self._ready.append(("start", task_id_for(()), 0))
        try:
            while self._ready or self._busy():
                now = time.monotonic()
                while self._ready and self._busy() < self.options.max_workers and self._failed is None:
                    step, task_id, attempt = self._ready.popleft()
                    if attempt == 0 and self._try_clone(step, task_id):
                        self.reporter.cloned(step, task_id)
                        self._successors(step, task_id)
                        continue
                    self._launch(step, task_id, attempt)
                if self._failed is not None:
                    self._ready.clear()
                    self._kill_running()
                if not self._busy():
                    continue
                waits = [r.deadline - now for r in self._running.values() if r.deadline is not None]
                timeout = max(0.0, min([0.1, *waits]))
                if self._running:
                    for key, _ in self._selector.select(timeout):
                        self._reap(key.fd)
                else:
                    time.sleep(timeout)
                self._poll_without_pidfd()
                self._poll_remote()
                self._check_deadlines()
                self.reporter.refresh()
        except KeyboardInterrupt:
            self._kill_running("the run was interrupted (Ctrl-C)")
            raise
        finally:
            self._selector.close()
        status = Status.FAILED if self._failed else Status.SUCCEEDED
        return RunResult(run_id=self.run_id, status=status, failed_task=self._failed, cloned=len(self._cloned))
