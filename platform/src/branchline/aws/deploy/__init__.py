"""The deployer: desired state → plan (diff against what exists) → execute; teardown; rollback of a flow.

Pure parts (models, planner, versions, sweeper planning) never touch AWS; observe/executor/api do.
"""

from branchline.aws.deploy.api import delete_flow, deploy, rollback_flow, teardown
from branchline.aws.deploy.models import FlowDeployResult, Plan

__all__ = ["FlowDeployResult", "Plan", "delete_flow", "deploy", "rollback_flow", "teardown"]
