"""MLflow credentials reach step containers as a secret id, resolved by the task itself (moto over HTTP).

The end-to-end case (a task resolving its secret and tracking into a server with authentication) is in
tests/tracking/test_auth_server.py; here: the secret's shape, the per-namespace secret id in the job
definitions, and the errors a wrong secret gives.
"""

from __future__ import annotations

import json

import pytest

from branchline.aws.deploy.desired import desired_flow
from branchline.aws.deploy.settings import AwsSettings
from branchline.namespaces import Names
from branchline.runtime.loader import graph_from_file
from branchline.tracking.connect import TrackingError
from branchline.tracking.credentials import export_tracking_credentials, parse_secret
from tests.flows import flow_path

IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/demo@sha256:{'a' * 64}"


def settings(**over: str) -> AwsSettings:
    return AwsSettings(
        states_role_arn="arn:aws:iam::123456789012:role/demo-states-branch",
        job_role_arn="arn:aws:iam::123456789012:role/demo-job-branch",
        job_queue="branchline-shared",
        production_job_queue="branchline-prod",
        bucket="demo-bucket",
        scheduler_role_arn="arn:aws:iam::123456789012:role/demo-scheduler",
        production_states_role_arn="arn:aws:iam::123456789012:role/demo-states-prod",
        production_job_role_arn="arn:aws:iam::123456789012:role/demo-job-prod",
        **over,  # type: ignore[arg-type]
    )


def job_environments(namespace: str, aws: AwsSettings) -> list[dict[str, str]]:
    graph = graph_from_file(flow_path("linear_flow"))
    flow = desired_flow(graph, Names("demo", namespace), aws, flow_file="flows/linear_flow.py", image=IMAGE,
                        code_package="s3://demo-bucket/code.tar.gz", git_sha="0" * 40,
                        tracking_uri="https://mlflow.example.org")  # fmt: skip
    return [{e["name"]: e["value"] for e in jd.request["containerProperties"]["environment"]}
            for jd in flow.job_definitions]  # fmt: skip


def test_each_namespace_kind_gets_its_own_secret_id_and_never_a_credential() -> None:
    aws = settings(tracking_secret="demo/mlflow-branch", production_tracking_secret="demo/mlflow-production")
    for namespace, secret in (("br-feature-x-1a2b3c", "demo/mlflow-branch"), ("prod", "demo/mlflow-production")):
        for env in job_environments(namespace, aws):
            assert env["BRANCHLINE_TRACKING_SECRET"] == secret
            assert not any(name.startswith("MLFLOW_TRACKING_") for name in env)
    without = job_environments("prod", settings(tracking_secret="demo/mlflow-branch"))
    assert all("BRANCHLINE_TRACKING_SECRET" not in env for env in without)  # never the branches' secret


@pytest.mark.parametrize("text", [None, "", "not json", "[]", '{"username": "u"}', '{"username": "", "password": "p"}'])
def test_a_malformed_secret_is_named_without_repeating_it(text: str | None) -> None:
    with pytest.raises(TrackingError, match='secret s1 is not a JSON object with a non-empty "username"') as info:
        parse_secret(text, "s1")
    if text:
        assert text not in str(info.value)


def test_no_secret_means_nothing_to_resolve() -> None:
    env = {"MLFLOW_TRACKING_USERNAME": "me"}
    assert export_tracking_credentials(env) is None and env == {"MLFLOW_TRACKING_USERNAME": "me"}


@pytest.mark.moto
def test_the_secret_is_resolved_over_http_and_wins_over_what_was_set(moto_server: str) -> None:
    import boto3

    sm = boto3.client("secretsmanager", endpoint_url=moto_server)
    sm.create_secret(Name="demo/mlflow-prod-1", SecretString=json.dumps({"username": "production", "password": "pw"}))
    env = {"BRANCHLINE_TRACKING_SECRET": "demo/mlflow-prod-1", "MLFLOW_TRACKING_USERNAME": "someone"}
    assert export_tracking_credentials(env) == "production"
    assert env["MLFLOW_TRACKING_USERNAME"] == "production" and env["MLFLOW_TRACKING_PASSWORD"] == "pw"
    with pytest.raises(TrackingError, match="cannot read the MLflow credentials secret demo/none: Resource"):
        export_tracking_credentials({"BRANCHLINE_TRACKING_SECRET": "demo/none"})
