"""moto gap: its Batch places every job, whatever it asks for. Real Batch leaves a job RUNNABLE for as long as no
compute environment of its queue can hold it; the hybrid runtime's "stuck RUNNABLE" message needs that.

The shim holds a job at RUNNABLE while every MANAGED compute environment of its queue has a `maxvCpus` below the
job's vCPUs (UNMANAGED ones, whose capacity moto cannot know, still take anything, as before). A job terminated
while held fails at once, as on AWS. Nothing else of moto's Batch changes.
"""

from __future__ import annotations

from typing import Any

_APPLIED = False


def _vcpus(job: Any) -> float:
    requirements = (job.container_overrides or {}).get("resourceRequirements") or (
        job.job_definition.container_properties or {}
    ).get("resourceRequirements", [])
    found = [float(r["value"]) for r in requirements if r.get("type") == "VCPU"]
    return found[0] if found else 1.0


def can_ever_run(job: Any) -> bool:
    """False when every compute environment of the job's queue is MANAGED with maxvCpus below the job's vCPUs."""
    environments = job.job_queue.environments
    if not environments:
        return True
    for ce in environments:
        if ce.env_type != "MANAGED":
            return True
        if float((ce.compute_resources or {}).get("maxvCpus", 0)) >= _vcpus(job):
            return True
    return False


def apply() -> None:
    """Wrap `Job.status` so that a job that can never be placed stays RUNNABLE (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    from moto.batch import models

    original = models.Job.status

    def status(self: Any) -> str | None:
        if self._status == models.JobStatus.RUNNABLE and not can_ever_run(self):
            if self.stop:  # terminated while waiting: FAILED, as AWS reports it
                self._mark_stopped(success=False)
            return self._status
        return original.fget(self)

    models.Job.status = property(status, original.fset)
    _APPLIED = True
