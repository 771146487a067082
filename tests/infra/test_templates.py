"""The CloudFormation templates: cfn-lint clean, and the security model holds in their IAM policies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from branchline.aws import infra
from branchline.namespaces import Names, is_production, tracking_secret_prefix
from branchline.namespaces.derive import namespace_for_branch
from tests.infra.policy import ACCOUNT, REGION, Rendering, allows, as_list, load, role_statements

PROJECT = "iris-classifier"
BUCKET = "iris-classifier-artifacts"
PARAMS = {"Project": PROJECT, "AccountRole": "single", "GitHubOrg": "Acme", "GitHubRepo": "iris", "BucketName": BUCKET}
GITHUB = "token.actions.githubusercontent.com"
BRANCHLINE = Path(sys.executable).parent / "branchline"

# The only Allow statements with "Resource": "*": the APIs below have no resource-level permissions.
STAR_RESOURCE_ACTIONS = {
    "batch:DescribeJobs": "Batch has no resource-level permissions for Describe*/List* calls",
    "batch:DescribeJobDefinitions": "same",
    "batch:DescribeJobQueues": "same",
    "batch:ListJobs": "same",
    "states:ListStateMachines": "account-wide listing; no resource ARN exists for it",
    "states:ValidateStateMachineDefinition": "validates a definition, acts on no resource",
    "scheduler:ListSchedules": "account-wide listing",
    "tag:GetResources": "the tagging API takes no resource ARN (the sweeper filters by tag values)",
    "ecr:GetAuthorizationToken": "registry login; the API has no resource-level permissions",
    **{
        f"logs:{a}": "CloudWatch Logs vended-log delivery for Step Functions logging requires '*'"
        for a in ("CreateLogDelivery", "GetLogDelivery", "UpdateLogDelivery", "DeleteLogDelivery",
                  "ListLogDeliveries", "PutResourcePolicy", "DescribeResourcePolicies", "DescribeLogGroups")
    },
}


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


@pytest.fixture(scope="module")
def project() -> Rendering:
    return Rendering(load("project"), PARAMS)


@pytest.fixture(scope="module")
def shared() -> Rendering:
    return Rendering(load("shared"), {"AccountRole": "single", "SubnetIds": "subnet-1", "SecurityGroupIds": "sg-1"})


def _roles(rendering: Rendering) -> dict[str, dict[str, Any]]:
    return {lid: rendering.resource(lid) for lid, r in rendering.template["Resources"].items()
            if r["Type"] == "AWS::IAM::Role"}


def _statements(rendering: Rendering, logical_id: str) -> list[dict[str, Any]]:
    return list(role_statements(rendering.resource(logical_id)))


def _trust(rendering: Rendering, logical_id: str) -> list[dict[str, Any]]:
    return rendering.resource(logical_id)["Properties"]["AssumeRolePolicyDocument"]["Statement"]


# ------------------------------------------------------------------------------------------ lint
@pytest.mark.parametrize("stack", sorted(infra.TEMPLATES))
def test_cfn_lint_is_clean(stack: str) -> None:
    assert infra.lint_template(stack, ["us-east-1", "eu-west-1"]) == []


def test_validate_command_reports_a_broken_template(tmp_path: Path) -> None:
    """`branchline infra validate` is live: it passes on ours and fails, naming the rule, on a broken copy."""
    ok = subprocess.run([str(BRANCHLINE), "infra", "validate"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = infra.template_text("shared").replace("Type: AWS::Batch::JobQueue", "Type: AWS::Batch::JobQeue")
    from cfnlint.api import lint

    assert {m.rule.id for m in lint(broken)} >= {"E3006"}


# ------------------------------------------------------------------------------------------ trust
def test_ci_role_trusts_exactly_the_pull_request_subjects(project: Rendering) -> None:
    """Subjects as customised for the repository (["repo","context","ref"]): a pull request's merge ref."""
    (statement,) = _trust(project, "CiRole")
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"}
    assert statement["Condition"] == {
        "StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com"},
        "StringLike": {f"{GITHUB}:sub": "repo:Acme/iris:pull_request:ref:refs/pull/*/merge"},
    }


def test_release_role_trusts_only_the_production_environment_on_main(project: Rendering) -> None:
    (statement,) = _trust(project, "ReleaseRole")
    assert statement["Condition"] == {
        "StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com",
                         f"{GITHUB}:sub": "repo:Acme/iris:environment:production:ref:refs/heads/main"}
    }


def test_prune_role_trusts_only_the_production_branch(project: Rendering) -> None:
    (statement,) = _trust(project, "PruneRole")
    assert statement["Condition"]["StringEquals"][f"{GITHUB}:sub"] == \
        "repo:Acme/iris:ref:refs/heads/main:ref:refs/heads/main"


def test_github_trust_uses_no_wildcards_and_always_checks_the_audience(project: Rendering) -> None:
    federated = 0
    for logical_id in _roles(project):
        for statement in _trust(project, logical_id):
            principal = statement["Principal"]
            assert principal != "*" and "AWS" not in principal, logical_id
            if "Federated" not in principal:
                assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, logical_id
                continue
            federated += 1
            claims = statement["Condition"]["StringEquals"]
            assert claims[f"{GITHUB}:aud"] == "sts.amazonaws.com"
            if logical_id == "CiRole":  # the one glob: the pull request number, between fixed parts
                (subject,) = statement["Condition"]["StringLike"].values()
                assert subject.count("*") == 1 and "?" not in subject and subject.endswith(":refs/pull/*/merge")
                continue
            assert set(statement["Condition"]) == {"StringEquals"}, f"{logical_id}: StringLike would allow globs"
            assert not set(claims[f"{GITHUB}:sub"]) & {"*", "?"}, logical_id
    assert federated == 3


def test_existing_oidc_provider_is_referenced_not_created(project: Rendering) -> None:
    reuse = Rendering(project.template, PARAMS | {"CreateOidcProvider": "false"})
    assert not reuse.conditions["CreateOidc"]
    (statement,) = _trust(reuse, "CiRole")
    assert statement["Principal"]["Federated"] == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"
    assert project.template["Resources"]["GitHubOidcProvider"]["Condition"] == "CreateOidc"


# ------------------------------------------------------------------------------------------ least privilege
@pytest.mark.parametrize("stack", sorted(infra.TEMPLATES))
def test_no_wildcard_action_and_star_resources_only_where_aws_requires(stack: str, project: Rendering,
                                                                        shared: Rendering) -> None:
    rendering = project if stack == "project" else shared
    for logical_id, role in _roles(rendering).items():
        for statement in role_statements(role):
            actions = as_list(statement["Action"])
            assert "*" not in actions, f"{logical_id}/{statement.get('Sid')}"
            if statement["Effect"] == "Deny":
                continue
            assert not any("*" in a for a in actions), f"{logical_id}/{statement.get('Sid')}: {actions}"
            if "*" in as_list(statement["Resource"]):
                unexplained = [a for a in actions if a not in STAR_RESOURCE_ACTIONS]
                assert unexplained == [], f"{logical_id}/{statement.get('Sid')}: {unexplained} on '*'"


def _names(project: str, namespace: str) -> dict[str, str]:
    names = Names(project, namespace)
    flow, step = "TrainFlow", "train_model"
    return {
        "machine": _arn("states", f"stateMachine:{names.state_machine(flow)}"),
        "alias": _arn("states", f"stateMachine:{names.state_machine(flow)}:{names.alias()}"),
        "execution": _arn("states", f"execution:{names.state_machine(flow)}:run-1"),
        "jobdef": _arn("batch", f"job-definition/{names.job_definition(flow, step)}"),
        "jobdef_rev": _arn("batch", f"job-definition/{names.job_definition(flow, step)}:3"),
        "object": f"arn:aws:s3:::{BUCKET}/{names.s3_prefix()}/runs/{flow}/run-1/start/0/data.pkl",
        "schedule": _arn("scheduler", f"schedule/default/{names.schedule(flow)}"),
    }


def _deploy_calls(n: dict[str, str], queue: str) -> list[tuple[str, str]]:
    """What deploying and running a namespace takes."""
    return [
        ("states:CreateStateMachine", n["machine"]), ("states:UpdateStateMachine", n["machine"]),
        ("states:UpdateStateMachineAlias", n["alias"]), ("states:StartExecution", n["alias"]),
        ("states:StopExecution", n["execution"]),
        ("batch:RegisterJobDefinition", n["jobdef"]), ("batch:DeregisterJobDefinition", n["jobdef_rev"]),
        ("batch:SubmitJob", n["jobdef_rev"]), ("batch:SubmitJob", _arn("batch", f"job-queue/{queue}")),
        ("s3:PutObject", n["object"]), ("s3:GetObject", n["object"]),
    ]


BRANCH = namespace_for_branch('zzz";echo${IFS}"hi";#/a-very-long-feature-branch-name')


def test_names_of_a_branch_namespace_are_within_the_ci_role(project: Rendering) -> None:
    """Sanity for the next test: the patterns match the names `branchline.namespaces.Names` derives."""
    ci = _statements(project, "CiRole")
    for action, arn in _deploy_calls(_names(PROJECT, BRANCH), "branchline-shared"):
        assert allows(ci, action, arn), f"ci role cannot {action} on {arn}"
    release = _statements(project, "ReleaseRole")
    for action, arn in _deploy_calls(_names(PROJECT, "prod"), "branchline-prod"):
        assert allows(release, action, arn), f"release role cannot {action} on {arn}"


@pytest.mark.parametrize("role", ["CiRole", "PruneRole", "BranchStatesRole", "BranchJobRole"])
def test_nothing_a_pull_request_can_use_reaches_production(project: Rendering, role: str) -> None:
    statements = _statements(project, role)
    prod = _names(PROJECT, "prod")
    reach = [*_deploy_calls(prod, "branchline-prod"),
             ("states:DeleteStateMachine", prod["machine"]), ("s3:DeleteObject", prod["object"]),
             ("scheduler:CreateSchedule", prod["schedule"]),
             ("batch:SubmitJob", _arn("batch", "job-queue/branchline-prod"))]
    reach += [("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-{r}")
              for r in ("states-prod", "job-prod", "scheduler", "release")]
    granted = {(a, r): allows(statements, a, r) for a, r in reach}
    assert {k: v for k, v in granted.items() if v} == {}


def test_job_control_without_names_is_limited_by_namespace_tag(project: Rendering) -> None:
    """Batch job ARNs carry no name: TerminateJob/CancelJob for branches need the branch namespace tag."""
    for role in ("CiRole", "PruneRole"):
        (statement,) = [s for s in _statements(project, role) if "batch:TerminateJob" in as_list(s["Action"])]
        assert statement["Condition"] == {"StringLike": {"aws:ResourceTag/branchline:namespace": "br-*"}}
    guard = project.resource("BranchGuardrails")["Properties"]
    denies = {s["Sid"]: s for s in guard["PolicyDocument"]["Statement"]}
    assert {s["Effect"] for s in denies.values()} == {"Deny"}
    assert denies["NeverTouchProductionTaggedResources"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/branchline:namespace": "prod"}}
    assert denies["NeverCreateProductionTaggedResources"]["Condition"] == {
        "StringEquals": {"aws:RequestTag/branchline:namespace": "prod"}}


def test_branch_job_role_reads_and_writes_its_prefix_only(project: Rendering) -> None:
    statements = _statements(project, "BranchJobRole")
    assert {a for s in statements for a in as_list(s["Action"])} == {
        "s3:GetObject", "s3:PutObject", "s3:ListBucket", "secretsmanager:GetSecretValue"}
    own = _names(PROJECT, BRANCH)["object"]
    assert allows(statements, "s3:PutObject", own)
    assert not allows(statements, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/branchline/other-project/br-x/a")


def _secret(project: str, namespace: str) -> str:
    """The ARN of a secret named by the convention (`<prefix>mlflow` plus the suffix Secrets Manager appends)."""
    prefix = tracking_secret_prefix(project, is_production(namespace))
    return _arn("secretsmanager", f"secret:{prefix}mlflow-AbCdEf")


def test_each_job_role_reads_its_own_tracking_secret_and_no_other(project: Rendering) -> None:
    """The names `[tool.branchline.aws] tracking_secret` must use are the ones IAM grants (the settings refuse
    others): branch jobs `branchline/<project>/branch/*`, production's `branchline/<project>/prod/*`."""
    branch, prod = _secret(PROJECT, BRANCH), _secret(PROJECT, "prod")
    read = "secretsmanager:GetSecretValue"
    assert allows(_statements(project, "BranchJobRole"), read, branch)
    assert not allows(_statements(project, "BranchJobRole"), read, prod)
    assert allows(_statements(project, "ProdJobRole"), read, prod)
    assert not allows(_statements(project, "ProdJobRole"), read, branch)
    for role in ("CiRole", "PruneRole", "BranchStatesRole", "ReleaseRole", "ProdStatesRole", "SchedulerRole"):
        assert not allows(_statements(project, role), read, branch) and not allows(_statements(project, role), read,
                                                                                    prod), role
    neighbour = _arn("secretsmanager", f"secret:branchline/{PROJECT}x/branch/mlflow-AbCdEf")  # no shared prefix
    assert not allows(_statements(project, "BranchJobRole"), read, neighbour)
    guard = {s["Sid"]: s for s in project.resource("BranchGuardrails")["Properties"]["PolicyDocument"]["Statement"]}
    deny = guard["TouchNoSecretButTheBranchOnes"]
    assert deny["Action"] == "secretsmanager:*"
    assert deny["NotResource"] == _arn("secretsmanager", f"secret:branchline/{PROJECT}/branch/*")


def test_states_roles_have_what_batch_sync_and_distributed_map_need(project: Rendering) -> None:
    statements = _statements(project, "BranchStatesRole")
    rule = _arn("events", "rule/StepFunctionsGetEventsForBatchJobsRule")
    machine = _names(PROJECT, BRANCH)["machine"]
    for action, arn in [("events:PutTargets", rule), ("events:PutRule", rule), ("events:DescribeRule", rule),
                        ("batch:DescribeJobs", "*"), ("batch:TerminateJob", _arn("batch", "job/abc")),
                        ("states:StartExecution", machine),
                        ("states:DescribeExecution", _arn("states", f"execution:{machine.rsplit(':', 1)[1]}/m:1")),
                        ("s3:GetObject", _names(PROJECT, BRANCH)["object"])]:
        assert allows(statements, action, arn), (action, arn)
    scheduler = _statements(project, "SchedulerRole")
    assert allows(scheduler, "states:StartExecution", _names(PROJECT, "prod")["alias"])
    assert not allows(scheduler, "states:StartExecution", _names(PROJECT, BRANCH)["alias"])


def test_names_of_long_projects_keep_the_prefix_iam_relies_on() -> None:
    """A shortened name keeps the whole project and the namespace's kind; the hash keeps inputs apart."""
    project, flow = "p" * 40, "TrainFlowWithAVeryLongClassNameIndeed"
    seen: set[str] = set()
    for namespace, prefix in ((namespace_for_branch("feature/" + "x" * 60), f"{project}-br-"),
                              (namespace_for_branch("feature/" + "x" * 59 + "y"), f"{project}-br-"),
                              ("prod", f"{project}-prod-")):
        names = Names(project, namespace)
        for name in (names.state_machine(flow), names.job_definition(flow, "s" * 60), names.schedule(flow)):
            assert name.startswith(prefix), name
            seen.add(name)
    assert len(seen) == 9


# ------------------------------------------------------------------------------------------ resources
def test_bucket_is_private_encrypted_versioned_and_expires_branch_prefixes(project: Rendering) -> None:
    props = project.resource("ArtifactBucket")["Properties"]
    assert props["BucketName"] == BUCKET
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    branch = rules["expire-branch-namespaces"]
    assert branch["Prefix"] == f"branchline/{PROJECT}/br-" and branch["ExpirationInDays"] == "14"
    assert Names(PROJECT, BRANCH).s3_prefix().startswith(branch["Prefix"])
    assert not Names(PROJECT, "prod").s3_prefix().startswith(branch["Prefix"])
    tls, prod_prefix = project.resource("ArtifactBucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert prod_prefix["Effect"] == "Deny" and prod_prefix["Resource"].endswith(f"/branchline/{PROJECT}/prod/*")
    assert prod_prefix["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-job-prod", f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-release"]


@pytest.mark.parametrize(("logical_id", "name"), [("ImageRepository", PROJECT),
                                                ("ProductionImageRepository", f"{PROJECT}-prod")])
def test_image_repository_is_immutable_scanned_and_keeps_production_images(project: Rendering, logical_id: str,
                                                                           name: str) -> None:
    props = project.resource(logical_id)["Properties"]
    assert props["RepositoryName"] == name  # [tool.branchline.aws] image_repository ends with /<project>
    assert props["ImageTagMutability"] == "IMMUTABLE"
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    rules = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    by_prefix = {tuple(r["selection"].get("tagPrefixList", [])): r for r in rules}
    assert by_prefix[("deps-",)]["selection"]["countNumber"] == 30
    assert by_prefix[("prod-",)]["selection"]["countNumber"] == 20  # ProdImagesToKeep >= keep_versions (10)
    # ECR: an image matched by a higher-priority rule is never expired by a lower one.
    assert by_prefix[("prod-",)]["rulePriority"] < by_prefix[("deps-",)]["rulePriority"]


def test_shared_stack_has_two_queues_and_spot_only_for_branches(shared: Rendering) -> None:
    queues = {shared.resource(q)["Properties"]["JobQueueName"] for q in ("SharedJobQueue", "ProdJobQueue")}
    assert queues == {"branchline-shared", "branchline-prod"}
    spot = Rendering(shared.template, shared.params | {"BranchesUseSpot": "true", "ComputeType": "FARGATE"})
    assert spot.resource("SharedComputeEnvironment")["Properties"]["ComputeResources"]["Type"] == "FARGATE_SPOT"
    assert spot.resource("ProdComputeEnvironment")["Properties"]["ComputeResources"]["Type"] == "FARGATE"
    assert "InstanceRole" not in spot.resource("ProdComputeEnvironment")["Properties"]["ComputeResources"]
    assert shared.resource("JobLogGroup")["Properties"]["LogGroupName"] == "/aws/batch/job"


# ------------------------------------------------------------------------------------------ account modes
BRANCH_SIDE = {"BranchStatesRole", "BranchJobRole", "CiRole", "PruneRole", "ImageRepository", "BranchGuardrails"}
PRODUCTION_SIDE = {"ProdStatesRole", "ProdJobRole", "SchedulerRole", "ReleaseRole", "ProductionImageRepository"}


def _present(rendering: Rendering) -> set[str]:
    return {lid for lid, r in rendering.template["Resources"].items()
            if "Condition" not in r or rendering.conditions[r["Condition"]]}


@pytest.mark.parametrize(("role", "branches", "production"),
                         [("development", True, False), ("production", False, True), ("single", True, True)])
def test_each_account_holds_only_its_half(project: Rendering, role: str, branches: bool, production: bool) -> None:
    """A production account has no pull-request role, hence no trust path from a pull request at all."""
    present = _present(Rendering(project.template, PARAMS | {"AccountRole": role}))
    assert BRANCH_SIDE & present == (BRANCH_SIDE if branches else set())
    assert PRODUCTION_SIDE & present == (PRODUCTION_SIDE if production else set())
    assert {"ArtifactBucket", "ArtifactBucketPolicy", "StatesLogGroup"} <= present


@pytest.mark.parametrize(("role", "queues"), [("development", {"SharedJobQueue"}), ("production", {"ProdJobQueue"}),
                                              ("single", {"SharedJobQueue", "ProdJobQueue"})])
def test_shared_stack_holds_the_queues_of_its_side(shared: Rendering, role: str, queues: set[str]) -> None:
    present = _present(Rendering(shared.template, shared.params | {"AccountRole": role}))
    assert {lid for lid in present if lid.endswith("JobQueue")} == queues


def test_branch_and_production_compute_never_share_a_role(shared: Rendering) -> None:
    branch = shared.resource("SharedComputeEnvironment")["Properties"]["ComputeResources"]["InstanceRole"]
    prod = shared.resource("ProdComputeEnvironment")["Properties"]["ComputeResources"]["InstanceRole"]
    assert branch != prod
    roles = {lid: shared.resource(lid)["Properties"] for lid in
             ("BatchInstanceRole", "ProdBatchInstanceRole", "BatchExecutionRole", "ProdBatchExecutionRole")}
    assert len({r["RoleName"] for r in roles.values()}) == 4
    scopes = {lid: {t["Key"]: t["Value"] for t in r["Tags"]}["branchline:scope"] for lid, r in roles.items()}
    assert scopes == {"BatchInstanceRole": "branch", "ProdBatchInstanceRole": "prod",
                      "BatchExecutionRole": "branch", "ProdBatchExecutionRole": "prod"}


def test_branch_instances_stay_in_the_branch_cluster(shared: Rendering) -> None:
    """The ECS agent's managed policy works on any cluster; the branch instance role is denied all but its own."""
    (policy,) = shared.resource("BatchInstanceRole")["Properties"]["Policies"]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and {"ecs:RegisterContainerInstance", "ecs:Poll"} <= set(deny["Action"])
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
    clusters = ["branchline-shared_Batch_*", "AWSBatch-branchline-shared-*"]
    assert sorted(deny["NotResource"]) == sorted([f"{arn}:cluster/{c}" for c in clusters] +
                                                 [f"{arn}:container-instance/{c}/*" for c in clusters])
    names = {shared.resource(ce)["Properties"]["ComputeEnvironmentName"] for ce in ("SharedComputeEnvironment",
                                                                                    "ProdComputeEnvironment")}
    assert names == {"branchline-shared", "branchline-prod"}  # the cluster names the patterns rely on


def test_no_role_holds_log_delivery_since_no_state_machine_logs(project: Rendering) -> None:
    """The deployer creates state machines without loggingConfiguration: nothing needs logs:*LogDelivery."""
    for logical_id, role in _roles(project).items():
        actions = {a for st in role_statements(role) for a in as_list(st["Action"])}
        assert not {a for a in actions if a.startswith("logs:") and "Delivery" in a}, logical_id


def test_branch_guardrails_bind_every_branch_role(project: Rendering) -> None:
    guard = project.resource("BranchGuardrails")["Properties"]
    assert sorted(guard["Roles"]) == sorted(f"{PROJECT}-{r}" for r in ("states-branch", "job-branch", "ci", "prune"))
    by_sid = {s["Sid"]: s for s in guard["PolicyDocument"]["Statement"]}
    assert by_sid["NeverTouchAnotherProjectsResources"]["Condition"] == {
        "Null": {"aws:ResourceTag/branchline:project": "false"},
        "StringNotEquals": {"aws:ResourceTag/branchline:project": PROJECT}}
    assert sorted(by_sid["PassNoRoleButTheBranchOnes"]["NotResource"]) == sorted(
        f"arn:aws:iam::{ACCOUNT}:role/{n}" for n in (f"{PROJECT}-states-branch", f"{PROJECT}-job-branch",
                                                     "branchline-batch-execution"))


def test_no_production_identity_pulls_from_the_branch_repository(project: Rendering) -> None:
    """The registry, not only the platform's image rule, keeps production off the images pull requests push."""
    (deny,) = project.resource("ImageRepository")["Properties"]["RepositoryPolicyText"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert set(deny["Action"]) == {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}
    assert deny["Condition"] == {"StringEquals": {"aws:PrincipalTag/branchline:scope": "prod"}}


def test_production_repository_is_pushed_by_the_release_role_only(project: Rendering) -> None:
    props = project.resource("ProductionImageRepository")["Properties"]
    assert props["RepositoryName"] == f"{PROJECT}-prod" and props["ImageTagMutability"] == "IMMUTABLE"
    push, pull = props["RepositoryPolicyText"]["Statement"]
    assert push["Effect"] == pull["Effect"] == "Deny"
    assert "ecr:PutImage" in push["Action"]
    assert push["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-release"}}
    assert pull["Condition"] == {"StringEquals": {"aws:PrincipalTag/branchline:scope": "branch"}}
    release = _statements(project, "ReleaseRole")
    repo = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{PROJECT}-prod"
    assert allows(release, "ecr:PutImage", repo)
    assert not allows(release, "ecr:PutImage", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{PROJECT}")
    for role in ("CiRole", "PruneRole", "BranchStatesRole", "BranchJobRole"):
        assert not allows(_statements(project, role), "ecr:PutImage", repo), role
