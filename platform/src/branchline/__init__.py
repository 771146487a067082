"""branchline: write flows in plain Python, run them locally or on AWS Step Functions + Batch.

The authoring API is Metaflow's subset: change only the import line of a Metaflow flow. The client
(`Flow`, `Run`, `namespace`, ...) loads on first use, so a flow's start-up does not pay for it. Metaflow
names branchline does not support import fine and stop the flow before anything runs, with one line
saying what to use instead (`branchline.authoring.unsupported`).
"""

from typing import Any

from branchline.authoring.compute import batch, pypi, pypi_base
from branchline.authoring.current import current
from branchline.authoring.decorators import catch, environment, resources, retry, schedule, step, timeout
from branchline.authoring.flowspec import FlowSpec
from branchline.authoring.parameters import IncludeFile, JSONType, Parameter
from branchline.authoring.project import project
from branchline.authoring.unsupported import exported as _unsupported

__version__ = "0.1.0"

_CLIENT = ("DataArtifact", "Flow", "Metaflow", "Run", "Step", "Task", "default_namespace", "get_namespace",
           "namespace")
globals().update(_unsupported())

__all__ = [
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "Parameter",
    "batch",
    "catch",
    "current",
    "environment",
    "project",
    "pypi",
    "pypi_base",
    "resources",
    "retry",
    "schedule",
    "step",
    "timeout",
    *_CLIENT,
]


def __getattr__(name: str) -> Any:
    """The client's names, imported when first asked for (`from branchline import Flow`)."""
    if name in _CLIENT:
        from branchline import client

        return getattr(client, name)
    raise AttributeError(f"module 'branchline' has no attribute {name!r}")
