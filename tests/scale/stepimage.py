"""The step image of the fault tests: the base image, this checkout's branchline and its `aws` extra; built once
per test session (a test bed service, shared by the xdist workers) and pushed to the local registry.

Smaller than the template's image on purpose: the fault tests need the task entry point and boto3, nothing of
MLflow or GX; the template's own image is built by the e2e test.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import time
from pathlib import Path

from tests.e2e.project import platform_wheel
from tests.testbed.bed import Testbed
from tests.testbed.runs import ServiceInfo

DOCKERFILE = """\
FROM {base}
COPY wheels /wheels
RUN python3 -m venv /opt/venv \\
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels "branchline[aws]" \\
    && rm -rf /wheels && /opt/venv/bin/branchline --help > /dev/null
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /tmp
"""


def _context(base: str, wheels: list[Path]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        body = DOCKERFILE.format(base=base).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
        for wheel in wheels:
            tar.add(wheel, arcname=f"wheels/{wheel.name}")
    buffer.seek(0)
    return buffer


def step_image(bed: Testbed) -> str:
    """`registry/scale-step@sha256:…` (built and pushed on first use in the session)."""

    def build(directory: Path) -> ServiceInfo:
        import docker

        from branchline.images.publish import push

        started = time.monotonic()
        wheels = [*bed.wheelhouse().glob("*.whl"), platform_wheel(directory / "platform")]
        engine = docker.DockerClient(base_url=bed.docker_host)
        repository = f"{bed.registry()}/scale-step"
        engine.images.build(fileobj=_context(bed.base_image(), wheels), custom_context=True, tag=f"{repository}:t",
                            network_mode="none", rm=True)
        digest = push(engine, repository, "t", None)
        shutil.rmtree(directory / "platform", ignore_errors=True)
        return {"reference": f"{repository}@{digest}", "seconds": round(time.monotonic() - started, 1)}

    return str(bed.run.service("scale_step_image", build)["reference"])
