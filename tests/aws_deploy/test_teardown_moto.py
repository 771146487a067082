"""Teardown against moto: a branch leaves nothing behind and touches neither prod nor another branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from branchline.aws.deploy import teardown
from branchline.aws.deploy.apply import apply_desired
from branchline.aws.deploy.observe import job_definitions, state_machine_arns
from branchline.aws.deploy.sweeper import ProductionTeardownRefused, tagged_state_machines
from branchline.aws.session import client
from branchline.config import Config
from branchline.namespaces import Names
from tests.aws_deploy.conftest import Infra
from tests.aws_deploy.standins import FLOW, desired, new_project

pytestmark = pytest.mark.moto


def inventory(names: Names, bucket: str) -> dict[str, int]:
    """Count every kind of resource of a namespace, each through its own service's listing."""
    s3 = client("s3").list_objects_v2(Bucket=bucket, Prefix=names.s3_prefix() + "/")
    schedules = [s["Name"] for s in client("scheduler").list_schedules().get("Schedules", [])]
    return {
        "tagged": len(tagged_state_machines(client, names)),
        "state_machines": int(names.state_machine(FLOW) in state_machine_arns(client)),
        "job_definitions": len(job_definitions(client, names)),
        "schedules": int(names.schedule(FLOW) in schedules),
        "s3_objects": s3.get("KeyCount", 0),
    }


def setup_namespace(names: Names, aws: Infra) -> None:
    apply_desired(names, [desired(names, aws, schedule=True)])
    apply_desired(names, [desired(names, aws, code_package="s3://code/2.tgz", schedule=True)])
    for key in ("runs/TrainFlow/1/start/0/a.pkl", "code/x.tgz"):
        client("s3").put_object(Bucket=aws.bucket, Key=f"{names.s3_prefix()}/{key}", Body=b"x")


def config(tmp_path: Path, project: str, aws: Infra) -> Config:
    return Config(root=tmp_path, data={"project": project, "aws": {"bucket": aws.bucket}})


def test_branch_teardown_leaves_nothing_and_spares_prod_and_other_branch(aws: Infra, tmp_path: Path) -> None:
    project = new_project()
    a, b, prod = (Names(project, ns) for ns in ("br-a", "br-ab", "prod"))
    for names in (a, b, prod):
        setup_namespace(names, aws)
    before = {n.namespace: inventory(n, aws.bucket) for n in (b, prod)}
    assert before["prod"] == {"tagged": 1, "state_machines": 1, "job_definitions": 4, "schedules": 1, "s3_objects": 2}
    assert before["br-ab"]["s3_objects"] == 2 and before["br-ab"]["schedules"] == 0

    plan = teardown(config(tmp_path, project, aws), "br-a")
    assert {c.operation for c in plan.calls} == {"delete_state_machine", "deregister_job_definition", "delete_objects"}
    assert inventory(a, aws.bucket) == dict.fromkeys(before["prod"], 0)
    assert {n.namespace: inventory(n, aws.bucket) for n in (b, prod)} == before
    assert teardown(config(tmp_path, project, aws), "br-a").calls == []


def test_prod_teardown_needs_the_production_flag(aws: Infra, tmp_path: Path) -> None:
    project = new_project()
    prod = Names(project, "prod")
    setup_namespace(prod, aws)
    with pytest.raises(ProductionTeardownRefused, match="--production"):
        teardown(config(tmp_path, project, aws), "prod")
    assert inventory(prod, aws.bucket)["state_machines"] == 1
    plan = teardown(config(tmp_path, project, aws), "prod", production=True, keep_data=True)
    assert "delete_schedule" in {c.operation for c in plan.calls}
    assert inventory(prod, aws.bucket) == {"tagged": 0, "state_machines": 0, "job_definitions": 0, "schedules": 0,
                                           "s3_objects": 2}


def test_teardown_dry_run_deletes_nothing(aws: Infra, tmp_path: Path) -> None:
    project = new_project()
    names = Names(project, "br-dry")
    setup_namespace(names, aws)
    before = inventory(names, aws.bucket)
    plan = teardown(config(tmp_path, project, aws), "br-dry", dry_run=True)
    assert len(plan.calls) == 1 + 4 + 1
    assert inventory(names, aws.bucket) == before
