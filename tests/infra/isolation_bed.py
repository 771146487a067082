"""Both account modes deployed on an IAM-enforcing moto server, with production resources to attack.

- single account 333333333333: shared + project stacks with AccountRole=single, plus a second project whose
  name extends this one's (`churn-br-x`, which branchline now refuses, so it is made by hand as an attacker
  or an older tool would) and a project `churnx`;
- development account 111111111111 and production account 222222222222: the same stacks, one half each.

Besides the names and resources production runs with, each side gets what the seams between issue 8's parts
rest on: the MLflow credential secrets (named by `branchline.namespaces.tracking_secret_prefix`) and a gate
evidence record (`<ns>/runs/<flow>/<run>/<step>/<task>/evidence/<mlflow run>.json`, the key the tasks write).

Everything is deployed by the account's admin through CloudFormation (`branchline.aws.infra.deploy_stack`,
the code `branchline infra deploy` runs); production and branch resources are then created with the names
and tags `branchline.namespaces` gives them. Identities are read back from IAM as deployed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from branchline.aws import infra
from branchline.datastore.layout import task_key
from branchline.namespaces import Names, tracking_secret_prefix
from branchline.namespaces.derive import namespace_for_branch
from branchline.tracking.evidence import EVIDENCE_DIR
from tests.infra.enforced_moto import REGION, EnforcedMoto
from tests.infra.evaluator import Identity, Target
from tests.infra.policy import Rendering, load, policy_document

SINGLE, DEV, PROD = "333333333333", "111111111111", "222222222222"
PROJECT = "churn"
GITHUB = ("acme", "churn")
FLOW, STEP = "TrainFlow", "train"
BRANCH_NS = namespace_for_branch("feature/new-model")
PASS_STATE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def bucket_of(account: str) -> str:
    return f"{PROJECT}-artifacts-{account}"


@dataclass
class Account:
    """One deployed account: its role, what was deployed, and the resources made in it."""

    account_id: str
    role: str  # development / production / single
    targets: dict[str, Target] = field(default_factory=dict)
    rendering: Rendering | None = None

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{self.account_id}:{resource}"


def _network(moto: EnforcedMoto, account: str) -> dict[str, str]:
    ec2 = moto.admin(account, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = moto.admin(account, "iam").create_role(RoleName="batch-service", AssumeRolePolicyDocument=json.dumps(trust))
    return {"SubnetIds": subnet, "SecurityGroupIds": group, "BatchServiceRoleArn": role["Role"]["Arn"],
            "InstanceTypes": "optimal"}


def _deploy(moto: EnforcedMoto, account: str, role: str) -> Rendering:
    cfn = moto.admin(account, "cloudformation")
    shared = _network(moto, account) | {"AccountRole": role}
    infra.deploy_stack(cfn, "branchline-shared", infra.template_text("shared"), shared, poll=0.1)
    params = infra.project_parameters(PROJECT, "/".join(GITHUB), account_role=role, bucket=bucket_of(account),
                                      oidc_provider_exists=False)
    infra.deploy_stack(cfn, f"branchline-{PROJECT}", infra.template_text("project"), params, poll=0.1)
    _store_policies_as_text(moto, account)
    _attach_managed_policies(moto, Rendering(load("shared"), shared, account))
    return Rendering(load("project"), params, account)


def _store_policies_as_text(moto: EnforcedMoto, account: str) -> None:
    """moto gap: an `AWS::IAM::Policy` made by its CloudFormation is stored as a dict, which its access control
    cannot read (KeyError 'policy_document', HTTP 500). Put the same document back, as IAM stores it (text)."""
    iam = moto.admin(account, "iam")
    for role in (r["RoleName"] for r in iam.list_roles()["Roles"]):
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = policy_document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def _attach_managed_policies(moto: EnforcedMoto, shared: Rendering) -> None:
    """moto gap: its CloudFormation ignores a role's `ManagedPolicyArns`. Attach them as CloudFormation would
    (the AWS managed policies exist because the server loads them): the Batch execution and instance roles."""
    iam = moto.admin(shared.account, "iam")
    for logical_id, resource in shared.template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role" or not shared.conditions.get(resource.get("Condition", ""), True):
            continue
        props = shared.resource(logical_id)["Properties"]
        for arn in props.get("ManagedPolicyArns", []):
            iam.attach_role_policy(RoleName=props["RoleName"], PolicyArn=arn)


def _machine(moto: EnforcedMoto, acc: Account, name: str, tags: dict[str, str], role: str) -> Target:
    sfn = moto.admin(acc.account_id, "stepfunctions")
    arn = sfn.create_state_machine(name=name, definition=PASS_STATE,
                                   roleArn=f"arn:aws:iam::{acc.account_id}:role/{role}",
                                   tags=[{"key": k, "value": v} for k, v in tags.items()])["stateMachineArn"]
    listed = sfn.list_tags_for_resource(resourceArn=arn)["tags"]  # the tags as the service holds them
    return Target(arn, acc.account_id, {t["key"]: t["value"] for t in listed})


def _job_definition(moto: EnforcedMoto, acc: Account, name: str, tags: dict[str, str]) -> Target:
    batch = moto.admin(acc.account_id, "batch")
    made = batch.register_job_definition(jobDefinitionName=name, type="container", tags=tags, containerProperties={
        "image": "busybox", "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                     {"type": "MEMORY", "value": "512"}]})
    # as described back (ListTagsForResource's path-style ARN fails moto's signature check under enforcement)
    (described,) = batch.describe_job_definitions(jobDefinitions=[made["jobDefinitionArn"]])["jobDefinitions"]
    return Target(made["jobDefinitionArn"], acc.account_id, described.get("tags") or {})


def _queue(moto: EnforcedMoto, acc: Account, name: str) -> Target:
    (queue,) = moto.admin(acc.account_id, "batch").describe_job_queues(jobQueues=[name])["jobQueues"]
    return Target(queue["jobQueueArn"], acc.account_id, queue.get("tags") or {})


def _repository(moto: EnforcedMoto, acc: Account, name: str, policy: dict[str, Any] | None) -> Target:
    ecr = moto.admin(acc.account_id, "ecr")
    (repo,) = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    return Target(repo["repositoryArn"], acc.account_id, {t["Key"]: t["Value"] for t in tags}, policy)


def _object(moto: EnforcedMoto, acc: Account, namespace: str, policy: dict[str, Any], key: str | None = None) -> Target:
    key = key or f"{Names(PROJECT, namespace).s3_prefix()}/runs/{FLOW}/run-1/start/0/data.pkl"
    moto.admin(acc.account_id, "s3").put_object(Bucket=bucket_of(acc.account_id), Key=key, Body=b"artifact")
    return Target(f"arn:aws:s3:::{bucket_of(acc.account_id)}/{key}", acc.account_id, policy=policy)


def evidence_key(namespace: str) -> str:
    """Where a task of `namespace` records its MLflow evidence for the gate (tracking.evidence.evidence_key)."""
    task = task_key(namespace, FLOW, "run-1", "evaluate", "0")
    return f"branchline/{PROJECT}/{task}/{EVIDENCE_DIR}/0123456789abcdef.json"


def _evidence(moto: EnforcedMoto, acc: Account, policy: dict[str, Any]) -> Target:
    return _object(moto, acc, "prod", policy, evidence_key("prod"))


def _secret(moto: EnforcedMoto, acc: Account, production: bool) -> Target:
    """An MLflow credential secret named as the settings require (Secrets Manager appends a random suffix)."""
    name = f"{tracking_secret_prefix(PROJECT, production)}mlflow"
    arn = moto.admin(acc.account_id, "secretsmanager").create_secret(
        Name=name, SecretString='{"username": "u", "password": "p"}')["ARN"]
    return Target(arn, acc.account_id)


def _production_side(moto: EnforcedMoto, acc: Account) -> None:
    prod = Names(PROJECT, "prod")
    rendering = acc.rendering
    assert rendering is not None
    bucket_policy = rendering.resource("ArtifactBucketPolicy")["Properties"]["PolicyDocument"]
    repo_policy = rendering.resource("ProductionImageRepository")["Properties"]["RepositoryPolicyText"]
    acc.targets |= {
        "prod machine": _machine(moto, acc, prod.state_machine(FLOW), prod.tags(FLOW), f"{PROJECT}-states-prod"),
        "prod job definition": _job_definition(moto, acc, prod.job_definition(FLOW, STEP), prod.tags(FLOW)),
        "prod queue": _queue(moto, acc, "branchline-prod"),
        "prod repository": _repository(moto, acc, f"{PROJECT}-prod", repo_policy),
        "prod object": _object(moto, acc, "prod", bucket_policy),
        "prod bucket": Target(f"arn:aws:s3:::{bucket_of(acc.account_id)}", acc.account_id, policy=bucket_policy),
        "prod evidence": _evidence(moto, acc, bucket_policy),
        "prod tracking secret": _secret(moto, acc, production=True),
    }


def _branch_side(moto: EnforcedMoto, acc: Account) -> None:
    branch = Names(PROJECT, BRANCH_NS)
    rendering = acc.rendering
    assert rendering is not None
    bucket_policy = rendering.resource("ArtifactBucketPolicy")["Properties"]["PolicyDocument"]
    repo_policy = rendering.resource("ImageRepository")["Properties"].get("RepositoryPolicyText")
    acc.targets |= {
        "branch machine": _machine(moto, acc, branch.state_machine(FLOW), branch.tags(FLOW),
                                   f"{PROJECT}-states-branch"),
        "branch job definition": _job_definition(moto, acc, branch.job_definition(FLOW, STEP), branch.tags(FLOW)),
        "branch queue": _queue(moto, acc, "branchline-shared"),
        "branch repository": _repository(moto, acc, PROJECT, repo_policy),
        "branch object": _object(moto, acc, BRANCH_NS, bucket_policy),
        "branch bucket": Target(f"arn:aws:s3:::{bucket_of(acc.account_id)}", acc.account_id, policy=bucket_policy),
        "branch tracking secret": _secret(moto, acc, production=False),
    }
    if acc.role == "development":  # the prefix exists in every bucket; here no role at all may write it
        acc.targets["prod evidence"] = _evidence(moto, acc, bucket_policy)


def _neighbours(moto: EnforcedMoto, acc: Account) -> None:
    """Projects whose names extend `churn`: `churn-br-x` (inside churn's `churn-br-*` patterns) and `churnx`."""
    def tags(project: str, namespace: str) -> dict[str, str]:
        return {"branchline:project": project, "branchline:namespace": namespace, "branchline:flow": FLOW}

    role = f"{PROJECT}-states-branch"
    acc.targets |= {
        "churn-br-x prod machine": _machine(moto, acc, f"churn-br-x-prod-{FLOW}", tags("churn-br-x", "prod"), role),
        "churn-br-x branch machine": _machine(moto, acc, f"churn-br-x-br-abc12345-{FLOW}",
                                              tags("churn-br-x", "br-abc12345"), role),
        "churn-br-x prod job definition": _job_definition(moto, acc, f"churn-br-x-prod-{FLOW}-{STEP}",
                                                          tags("churn-br-x", "prod")),
        "churnx branch machine": _machine(moto, acc, f"churnx-br-abc12345-{FLOW}", tags("churnx", "br-abc12345"),
                                          role),
    }


def identity(moto: EnforcedMoto, account: str, role: str) -> Identity:
    """A role as IAM holds it after the deploy: inline and attached policies, tags."""
    iam = moto.admin(account, "iam")
    inline = [(name, iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
              for name in iam.list_role_policies(RoleName=role)["PolicyNames"]]
    attached = []
    for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)["PolicyVersion"]
        attached.append((policy["PolicyName"], document["Document"]))
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]}
    policies = tuple((name, policy_document(doc)) for name, doc in inline + attached)
    return Identity(f"arn:aws:iam::{account}:role/{role}", account, policies, tags)


@dataclass
class IsolationBed:
    moto: EnforcedMoto
    accounts: dict[str, Account]

    def identity(self, account: str, role: str) -> Identity:
        return identity(self.moto, account, role)


def build(moto: EnforcedMoto) -> IsolationBed:
    accounts = {SINGLE: Account(SINGLE, "single"), DEV: Account(DEV, "development"), PROD: Account(PROD, "production")}
    for acc in accounts.values():
        acc.rendering = _deploy(moto, acc.account_id, acc.role)
        if acc.role in ("single", "development"):
            _branch_side(moto, acc)
        if acc.role in ("single", "production"):
            _production_side(moto, acc)
    _neighbours(moto, accounts[SINGLE])
    return IsolationBed(moto, accounts)
