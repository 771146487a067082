"""The deployer: desired state → plan (diff against what exists) → execute; teardown; rollback.

Pure parts (models, planner, versions, sweeper planning) never touch AWS; observe/executor/api do.
"""

from branchline.aws.deploy.api import deploy, rollback, teardown
from branchline.aws.deploy.models import DeployResult, Plan

__all__ = ["DeployResult", "Plan", "deploy", "rollback", "teardown"]
