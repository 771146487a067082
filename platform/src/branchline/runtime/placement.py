"""Why a Batch job stays RUNNABLE: read the queue and its compute environments and say which lacks what.

A job waits RUNNABLE until a compute environment of its queue has room for it. When none of them could
*ever* hold it (the queue is disabled, every environment is disabled, or asks more vCPUs than its `maxvCpus`
or than its largest instance type has, more memory or GPUs than that type has), Batch leaves it there
forever; the run stops it with this message instead of hanging. Otherwise it is only waiting for capacity.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from branchline.aws.session import ClientFactory


class Placement(NamedTuple):
    never: bool
    """True: no compute environment of the queue can ever run the job"""
    message: str


def _instance_limits(clients: ClientFactory, types: list[str]) -> tuple[float, int, int] | None:
    """(vCPUs, MiB, GPUs) of the largest explicit instance type, or None (`optimal`, families, unknown)."""
    explicit = [t for t in types if "." in t]
    if not explicit or len(explicit) != len(types):
        return None
    try:
        found = clients("ec2").describe_instance_types(InstanceTypes=explicit)["InstanceTypes"]
    except Exception:  # an API we may not be allowed to call: then we cannot tell
        return None
    if not found:
        return None
    return (
        max(float(t["VCpuInfo"]["DefaultVCpus"]) for t in found),
        max(int(t["MemoryInfo"]["SizeInMiB"]) for t in found),
        max(sum(g.get("Count", 0) for g in (t.get("GpuInfo") or {}).get("Gpus", [])) for t in found),
    )


def environment_lacks(ce: dict[str, Any], limits: tuple[float, int, int] | None, vcpus: float, memory: int,
                      gpus: int) -> str | None:
    """What `ce` lacks to ever run a job of that size, or None when it could (or we cannot tell)."""
    name = ce.get("computeEnvironmentName", "?")
    if ce.get("state") != "ENABLED":
        return f"{name} is {ce.get('state', 'not enabled')}"
    resources = ce.get("computeResources")
    if ce.get("type") != "MANAGED" or not resources:
        return None  # unmanaged: its capacity is whatever instances someone attached
    max_vcpus = resources.get("maxvCpus")
    if max_vcpus is not None and vcpus > max_vcpus:
        return f"{name} has maxvCpus {max_vcpus}"
    if limits is not None:
        top_vcpus, top_memory, top_gpus = limits
        types = ", ".join(resources.get("instanceTypes", []))
        if vcpus > top_vcpus:
            return f"{name}'s largest instance type ({types}) has {top_vcpus:g} vCPUs"
        if memory > top_memory:
            return f"{name}'s largest instance type ({types}) has {top_memory} MiB"
        if gpus > top_gpus:
            return f"{name}'s instance types ({types}) have {top_gpus} GPUs"
    return None


def placement_problem(clients: ClientFactory, queue: str, vcpus: float, memory: int, gpus: int) -> Placement:
    """Whether a job of that size can ever leave RUNNABLE in `queue`, and what to do about it."""
    batch = clients("batch")
    queues = batch.describe_job_queues(jobQueues=[queue])["jobQueues"]
    if not queues:
        return Placement(True, f"cannot run: the job queue {queue} does not exist")
    described = queues[0]
    if described.get("state") != "ENABLED":
        return Placement(True, f"cannot run: the job queue {queue} is {described.get('state')}; enable it")
    order = [o["computeEnvironment"] for o in described.get("computeEnvironmentOrder", [])]
    environments = (
        batch.describe_compute_environments(computeEnvironments=order)["computeEnvironments"] if order else []
    )
    lacks = []
    for ce in environments:
        limits = _instance_limits(clients, (ce.get("computeResources") or {}).get("instanceTypes", []))
        reason = environment_lacks(ce, limits, vcpus, memory, gpus)
        if reason is None:
            names = ", ".join(e.get("computeEnvironmentName", "?") for e in environments)
            return Placement(False, f"Its compute environments ({names}) can hold it: it is waiting for capacity "
                                    "(instances starting, or other jobs ahead of it)")
        lacks.append(reason)
    detail = "; ".join(lacks) or "the queue has no compute environment"
    return Placement(
        True,
        f"no compute environment of the queue can ever run ({detail}). Ask for less with @batch/@resources "
        "(or --with batch:cpu=...,memory=...), or send the step to a queue whose compute environments are "
        "large enough (@batch(queue=...))",
    )
