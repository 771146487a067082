"""One user project for the Batch tests, set up once per pytest session and shared by the xdist workers.

The project is the real template, rendered and trimmed as the end-to-end test does (`tests/e2e/project.py`:
the platform from this checkout, its `aws` extra, installed offline from the test bed's wheelhouse), with the
moto infra of `tests/e2e/path.create_infra` (roles, an unmanaged compute environment, the branch queue, the
bucket), the local registry as its development image repository, and the test bed's base image as its
`BASE_IMAGE` build argument. Its step image is published once here; the runs find its dependency tag and
build nothing. Each test runs `branchline run ... --with batch` in a subprocess, in a namespace of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from branchline import client as bl
from tests.e2e import project as proj
from tests.e2e.path import EndToEnd
from tests.testbed.servers import TEST_CREDENTIALS

BRANCHLINE = str(Path(sys.executable).parent / "branchline")


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def aws_env(endpoint: str) -> dict[str, str]:
    return {**TEST_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}


def setup_project(data_dir: Path, endpoint: str, docker_host: str, registry: str, base_image: str,
                  wheelhouse: Any) -> dict[str, Any]:
    """Render, configure, publish the step image; the facts every test needs (JSON, for the service record)."""
    from branchline.aws.session import reset_clients

    with environment({**aws_env(endpoint), "DOCKER_HOST": docker_host}):
        reset_clients()
        bed = EndToEnd(work=data_dir, endpoint=endpoint, registry=registry, base_image=base_image,
                       wheelhouse=wheelhouse, namespace="user-bed")  # fmt: skip
        started = time.perf_counter()
        project = bed.render()
        bed.prepare()
        text = (project / "pyproject.toml").read_text(encoding="utf-8")
        text = proj._set_toml_keys(text, "tool.branchline.aws", {"image_repository": bed.repository})
        text += (f'\n[tool.branchline.image.build_args]\nBASE_IMAGE = "{base_image}"\n'
                 'WHEELHOUSE = "wheelhouse"\n')  # fmt: skip
        (project / "pyproject.toml").write_text(text, encoding="utf-8")
        proj.commit_all(project, "batch tests: image repository and build arguments")
        image = bed.publish("step image")
        reset_clients()
    assert bed.infra is not None
    return {
        "project": str(project), "name": project.name, "bucket": bed.infra.bucket, "queue": bed.infra.job_queue,
        "repository": bed.repository, "image": image.reference, "endpoint": endpoint, "docker_host": docker_host,
        "setup_seconds": time.perf_counter() - started,
    }  # fmt: skip


@dataclass
class Finished:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@dataclass
class BatchBed:
    """The shared project and this test's own namespace."""

    info: dict[str, Any]
    namespace: str

    @property
    def project(self) -> Path:
        return Path(self.info["project"])

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BRANCHLINE_", "MLFLOW_", "AWS_"))}
        env.update(aws_env(self.info["endpoint"]))
        env.update(DOCKER_HOST=self.info["docker_host"], BRANCHLINE_NAMESPACE=self.namespace,
                   BRANCHLINE_TRACKING="0", COLUMNS="200")  # fmt: skip
        env.update(extra)
        return env

    def write_flow(self, name: str, source: str) -> str:
        path = self.project / "flows" / name
        path.write_text(source, encoding="utf-8")
        return f"flows/{name}"

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        """In its own session (process group), as a terminal's foreground job."""
        return subprocess.Popen([BRANCHLINE, *args], cwd=self.project, env=self.env(**env), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip

    def branchline(self, *args: str, timeout: float = 600, **env: str) -> Finished:
        done = subprocess.run([BRANCHLINE, *args], cwd=self.project, env=self.env(**env), capture_output=True,
                              text=True, timeout=timeout, check=False)  # fmt: skip
        return Finished(done.returncode, done.stdout, done.stderr)

    def run_client(self, flow: str, run_id: str) -> Any:
        """`branchline.client.Run` as the user calls it in the project: the local datastore, which points at S3."""
        return bl.Run(f"{flow}/{run_id}", namespace=self.namespace, datastore=str(self.local_datastore))

    def latest_run_id(self, flow: str) -> str | None:
        """`Flow(flow).latest_run` read from the project's local datastore (which lists hybrid runs too)."""
        bl.datastore(str(self.local_datastore))
        try:
            latest = bl.Flow(flow, namespace=self.namespace).latest_run
        finally:
            bl.datastore(None)
        return latest.id if latest else None

    @property
    def local_datastore(self) -> Path:
        return self.project / ".branchline" / "datastore"

    def jobs_in_namespace(self, queue: str | None = None) -> list[dict[str, Any]]:
        """Every job of this namespace in the queue, any state (its job names start with project-namespace)."""
        from branchline.aws.session import client

        batch = client("batch")
        prefix = f"{self.info['name']}-{self.namespace}-"
        found = []
        for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
            listed = batch.list_jobs(jobQueue=queue or self.info["queue"], jobStatus=status)["jobSummaryList"]
            found += [j for j in listed if j["jobName"].startswith(prefix)]
        return found

    def jobs_of(self, run: Any) -> dict[str, list[str | None]]:
        return {step.name: [task.metadata.get("batch_job_id") for task in step.tasks()] for step in run.steps()}


def new_namespace() -> str:
    return f"user-bt-{uuid.uuid4().hex[:6]}"


def run_id_of(output: str) -> str:
    """The run id from `running Flow/<id> (namespace ...)`."""
    for line in output.splitlines():
        if line.startswith(("running ", "resuming ")):
            return line.split()[1].split("/", 1)[1]
    raise AssertionError(f"no run id in the output:\n{output}")


def dump(info: dict[str, Any]) -> str:
    return json.dumps(info, indent=1)
