"""Connects a local run to MLflow without paying MLflow's import in the runtime process.

The recorder runs in its own process, started with the run, so MLflow's import and store
creation overlap the tasks; tasks only touch MLflow when the user's code does.
"""

from __future__ import annotations

import subprocess

from rich.console import Console

from branchline.config import Config
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import RunRecord
from branchline.runtime.entrypoint import TaskSpec
from branchline.tracking.recorder import start_recorder, wait_for_recorder
from branchline.tracking.task_run import TaskTracking


class TrackingBridge:
    def __init__(self, config: Config, ds: FlowDatastore, run: RunRecord, proc: subprocess.Popen) -> None:
        self.config = config
        self.ds = ds
        self.run = run
        self.proc = proc

    @classmethod
    def start(cls, config: Config, ds: FlowDatastore, run: RunRecord, *, wait: bool = False) -> TrackingBridge:
        proc = start_recorder(
            datastore_url=ds.storage.url,
            namespace=ds.namespace,
            flow=run.flow,
            run_id=run.run_id,
            project=config.project,
            tracking_uri=config.tracking_uri,
            detached=not wait,
        )
        return cls(config, ds, run, proc)

    def task_tracking(self, spec: TaskSpec) -> TaskTracking:
        git = self.run.git or {}
        return TaskTracking(
            datastore=self.ds,
            namespace=self.ds.namespace,
            project=self.config.project,
            flow=spec.flow,
            run_id=spec.run_id,
            step=spec.step,
            task_id=spec.task_id,
            attempt=spec.attempt,
            tracking_uri=self.config.tracking_uri,
            tags={"branchline.git_sha": git.get("sha") or "", "branchline.branch": git.get("branch") or ""},
            mode="recorder",
        )

    def after_run(self, *, wait: bool, console: Console | None) -> None:
        if wait:
            wait_for_recorder(self.proc, timeout=120)
            if console is not None:
                console.print(f"  tracked in MLflow: {self.config.tracking_uri} (branchline ui)", soft_wrap=True)
        elif console is not None:
            console.print(
                f"  tracking: recording to {self.config.tracking_uri} in the background (branchline ui)", soft_wrap=True
            )
