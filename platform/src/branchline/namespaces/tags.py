"""The keys of the AWS tags branchline puts on what it deploys: the one place they are spelled.

The sweeper finds a namespace's resources by `TAG_PROJECT` + `TAG_NAMESPACE` (exact values, so a branch
teardown never reaches `prod`); the deployer reuses a job definition revision whose `TAG_SPEC_HASH` matches.
Values are made by `Names.tags` and the compiler. (MLflow tag keys are another vocabulary.)
"""

from __future__ import annotations

TAG_PROJECT = "branchline:project"
TAG_NAMESPACE = "branchline:namespace"
TAG_FLOW = "branchline:flow"
TAG_GIT_SHA = "branchline:git-sha"
TAG_STEP = "branchline:step"
TAG_SPEC_HASH = "branchline:spec-hash"
"""a job definition's hash of everything but its tags: a new revision only when the job itself changed"""
