"""`branchline.aws.infra`'s pure parts: parameters, change-set decisions; and `branchline infra print`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from branchline.aws import infra
from branchline.errors import BranchlineError

BRANCHLINE = Path(sys.executable).parent / "branchline"


def test_templates_ship_inside_the_package() -> None:
    for stack in infra.TEMPLATES:
        path = infra.template_path(stack)
        assert path.is_file() and path.parent.parent.name == "aws"
    with pytest.raises(BranchlineError, match="unknown stack 'prod'"):
        infra.template_path("prod")


def test_template_parameters_read_defaults_and_required_ones() -> None:
    shared = infra.template_parameters(infra.template_text("shared"))
    assert shared["SubnetIds"].default is None and shared["SecurityGroupIds"].default is None
    assert shared["InstanceTypes"].default == "optimal"
    assert shared["SharedMaxVcpus"].default == "64"
    assert shared["BranchesUseSpot"].default == "false"
    project = infra.template_parameters(infra.template_text("project"))
    assert {n for n, p in project.items() if p.default is None} == {"Project", "AccountRole", "GitHubOrg",
                                                                    "GitHubRepo"}
    assert shared["AccountRole"].default is None  # development, production or single: always chosen


def test_parse_overrides() -> None:
    assert infra.parse_overrides(["A=1", "SubnetIds=subnet-a,subnet-b", "Empty="]) == {
        "A": "1", "SubnetIds": "subnet-a,subnet-b", "Empty": ""}
    for bad in ("NoEquals", "=value"):
        with pytest.raises(BranchlineError, match="is not KEY=VALUE"):
            infra.parse_overrides([bad])


def test_split_github_repository_keeps_case() -> None:
    assert infra.split_github_repository("Acme-Corp/Iris.Model") == ("Acme-Corp", "Iris.Model")
    for bad in ("acme", "acme/", "/repo", "a/b/c"):
        with pytest.raises(BranchlineError, match="is not ORG/REPO"):
            infra.split_github_repository(bad)


def test_check_parameters_names_unknown_and_missing_ones() -> None:
    declared = infra.template_parameters(infra.template_text("shared"))
    with pytest.raises(BranchlineError, match="has no parameter Subnet") as unknown:
        infra.check_parameters(declared, {"Subnet": "x"}, "shared")
    assert "SubnetIds" in str(unknown.value)
    with pytest.raises(BranchlineError, match=r"needs SecurityGroupIds\n"):
        infra.check_parameters(declared, {"SubnetIds": "s", "AccountRole": "single"}, "shared")
    infra.check_parameters(declared, {}, "shared", previous=["SubnetIds", "SecurityGroupIds", "AccountRole"])


def test_update_keeps_previous_values_of_parameters_not_given() -> None:
    params = infra.change_set_parameters({"B": "2"}, declared=["A", "B", "C"], previous=["A", "B", "Gone"])
    assert params == [
        {"ParameterKey": "B", "ParameterValue": "2"},
        {"ParameterKey": "A", "UsePreviousValue": True},
    ]


def test_project_parameters() -> None:
    assert infra.project_parameters("demo", "Acme/demo", account_role="production", bucket="b",
                                    oidc_provider_exists=True) == {
        "Project": "demo", "AccountRole": "production", "GitHubOrg": "Acme", "GitHubRepo": "demo",
        "ProductionBranch": "main", "BucketName": "b", "CreateOidcProvider": "false"}
    assert "CreateOidcProvider" not in infra.project_parameters("demo", "Acme/demo")
    assert infra.project_parameters("demo", "a/b", oidc_provider_exists=False)["CreateOidcProvider"] == "true"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(None, "CREATE"), ("REVIEW_IN_PROGRESS", "CREATE"), ("CREATE_COMPLETE", "UPDATE"),
     ("UPDATE_ROLLBACK_COMPLETE", "UPDATE")],
)
def test_change_type_for(status: str | None, expected: str) -> None:
    assert infra.change_type_for(status, "s") == expected


@pytest.mark.parametrize(("status", "message"), [("ROLLBACK_COMPLETE", "delete it"),
                                                 ("UPDATE_IN_PROGRESS", "busy"), ("DELETE_FAILED", "DELETE_FAILED")])
def test_change_type_refuses_blocked_stacks(status: str, message: str) -> None:
    with pytest.raises(BranchlineError, match=message):
        infra.change_type_for(status, "branchline-demo")


def test_summarise_changes_and_no_change_reasons() -> None:
    described = [{"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "CiRole",
                                                         "ResourceType": "AWS::IAM::Role", "Replacement": "False"}}]
    assert infra.summarise_changes(described) == [infra.Change("Modify", "CiRole", "AWS::IAM::Role", "False")]
    assert infra.is_no_change("The submitted information didn't contain changes. Submit different information")
    assert infra.is_no_change("No updates are to be performed.")
    assert not infra.is_no_change("Parameters: [SubnetIds] must have values")
    assert not infra.is_no_change(None)


def test_default_stack_names() -> None:
    assert infra.default_stack_name("shared") == "branchline-shared"
    assert infra.default_stack_name("project", "demo") == "branchline-demo"


def test_print_outputs_the_templates_verbatim() -> None:
    one = subprocess.run([str(BRANCHLINE), "infra", "print", "--stack", "project"],
                         capture_output=True, text=True, check=True)
    assert one.stdout == infra.template_text("project")
    both = subprocess.run([str(BRANCHLINE), "infra", "print"], capture_output=True, text=True, check=True)
    assert both.stdout.count("AWSTemplateFormatVersion") == 2
    assert "# ---- branchline-shared.yaml" in both.stdout


@pytest.mark.parametrize(
    ("caller", "account_id", "production_account_id", "role"),
    [
        ("111111111111", None, None, "single"),
        ("111111111111", "111111111111", None, "single"),
        ("111111111111", "111111111111", "111111111111", "single"),
        ("111111111111", "111111111111", "222222222222", "development"),
        ("222222222222", "111111111111", "222222222222", "production"),
        ("111111111111", None, "222222222222", "development"),
    ],
)
def test_account_role_follows_the_configured_accounts(caller: str, account_id: str | None,
                                                      production_account_id: str | None, role: str) -> None:
    assert infra.account_role(caller, account_id, production_account_id) == role


@pytest.mark.parametrize(
    ("caller", "account_id", "production_account_id", "message"),
    [
        ("333333333333", "111111111111", None, "project lives in account 111111111111"),
        ("333333333333", "111111111111", "222222222222", "neither the development account 111111111111"),
    ],
)
def test_account_role_refuses_a_foreign_account(caller: str, account_id: str, production_account_id: str | None,
                                                message: str) -> None:
    with pytest.raises(infra.InfraError, match=message):
        infra.account_role(caller, account_id, production_account_id)
