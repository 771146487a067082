"""branchline: write flows in plain Python, run them locally or on AWS Step Functions + Batch.

The authoring API is Metaflow's subset: change only the import line of a Metaflow flow.
"""

from branchline.authoring.current import current
from branchline.authoring.decorators import catch, environment, resources, retry, schedule, step, timeout
from branchline.authoring.flowspec import FlowSpec
from branchline.authoring.parameters import IncludeFile, Parameter

__version__ = "0.1.0"

__all__ = [
    "FlowSpec",
    "IncludeFile",
    "Parameter",
    "catch",
    "current",
    "environment",
    "resources",
    "retry",
    "schedule",
    "step",
    "timeout",
]
