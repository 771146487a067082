"""The GitOps lifecycle, executed: every workflow file of the generated project run by `act` through a series of
events, each followed by the exact state of AWS (moto), the image registry and the pull requests (fake GitHub).

1. PR #1 opened from a hostile branch → ci.yml: the tests job, then the deploy job builds the step image, deploys
   the branch namespace and runs the smoke run in real containers; one PR comment.
2. PR #1 updated with a code-only change → no image build; a new version behind `live`; the comment updated.
3. PR #2 from another branch → its own namespace.
4. PR #3 from the SAME branch as #1 (into a release branch) → the same namespace, no AWS change, its own comment.
5. A fork's PR → the tests run, the deploy job is skipped: no AWS change.
6. PR #2 merged → release.yml deploys prod (its own image in the production repository); production's flow runs
   in containers as production's identity and its gate moves `champion`; cleanup.yml removes PR #2's namespace
   (a fork's open PR from a same-named branch keeps nothing alive).
7. A second release, then `branchline rollback` of prod: `live` back on version 1.
8. PR #1 updated after the release → its dry-run gate judges against production's champion, which stays.
9. PR #1 closed → cleanup.yml keeps the namespace: PR #3 still uses the branch.
10. The branch deleted (PR #3 closed by GitHub, its cleanup never ran) → prune.yml removes the orphan.
In the end no branch namespace is left: no state machine, job definition, S3 key or lock.

MLflow (the test bed's basic-auth server) is part of the state asserted after each event: every branch run
registers a version of `<model>-dev` and only dry-runs the gate; production's model gets its first version from
production's own run, whose gate moves `champion` to it; no branch run ever moves an alias.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from branchline.namespaces import Names, namespace_for_branch
from tests.act import flow as act_flow
from tests.act import series
from tests.ci.fake_github import FakeGitHub, GitHubServer
from tests.e2e import project as proj
from tests.testbed.bed import Testbed

pytestmark = [pytest.mark.docker, pytest.mark.moto, pytest.mark.slow, pytest.mark.timeout(1800)]

HOSTILE = 'zzz";echo${IFS}"hi";#'
OTHER = "feature/b"
FLOW = act_flow.FLOW_CLASS
STEPS = act_flow.STEPS
PRODUCTION_RUN_TIMEOUT_S = 300


def client(service: str) -> Any:
    from branchline.aws.session import client as make

    return make(service)


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    fake = FakeGitHub(series.REPOSITORY, series.TOKEN)
    fake.production_as_documented("main")
    with GitHubServer(fake) as server:
        yield server


@pytest.fixture
def bed(tmp_path: Path, moto_server_docker: str, docker_engine: str, local_registry: str, base_image: str,
        testbed: Testbed, github: GitHubServer, mlflow_auth_server: dict[str, Any]) -> series.Bed:
    from branchline.aws.session import reset_clients

    reset_clients()
    tracking = series.Tracking(str(mlflow_auth_server["url"]), dict(mlflow_auth_server["users"]))  # type: ignore[arg-type]
    return series.prepare(tmp_path, endpoint=moto_server_docker, registry=local_registry, docker_host=docker_engine,
                          base_image=base_image, api_url=github.url, wheelhouse=testbed.wheelhouse, client=client,
                          tracking=tracking)


# ----------------------------------------------------------------------------- what exists


def state(bed: series.Bed) -> dict[str, Any]:
    """Everything of the project that exists in either account, each read through its own service's listing."""
    repositories = (bed.name, f"{bed.name}-prod")
    found: dict[str, Any] = {"namespaces": {}, "job_definitions": {}, "s3": [],
                             "images": {repo: registry_tags(bed.registry, repo) for repo in repositories},
                             "mlflow": mlflow_state(bed)}
    for make, bucket in ((client, bed.infra.bucket), (bed.production_client, bed.infra.production_bucket)):
        one = account_state(make, bucket, bed.name)
        found["namespaces"] |= one["namespaces"]
        found["job_definitions"] |= one["job_definitions"]
        found["s3"] = sorted(found["s3"] + one["s3"])
    return found


def account_state(make: Any, bucket: str, project: str) -> dict[str, Any]:
    namespaces: dict[str, dict[str, Any]] = {}
    sfn = make("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        arn = machine["stateMachineArn"]
        tags = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]}
        if tags.get("branchline:project") != project:
            continue
        versions = sorted(int(v["stateMachineVersionArn"].rsplit(":", 1)[1])
                          for v in sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"])
        (route,) = sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:live")["routingConfiguration"]
        namespaces[tags["branchline:namespace"]] = {
            "versions": versions, "live": int(route["stateMachineVersionArn"].rsplit(":", 1)[1]),
            "sha": tags["branchline:git-sha"], "account": arn.split(":")[4]}
    job_definitions: dict[str, int] = {}
    for page in make("batch").get_paginator("describe_job_definitions").paginate(status="ACTIVE"):
        for jd in page["jobDefinitions"]:
            tags = jd.get("tags") or {}
            if tags.get("branchline:project") == project:
                job_definitions[tags["branchline:namespace"]] = job_definitions.get(tags["branchline:namespace"], 0) + 1
    listed = make("s3").list_objects_v2(Bucket=bucket, Prefix=f"branchline/{project}/", Delimiter="/")
    prefixes = [p["Prefix"].split("/")[2] for p in listed.get("CommonPrefixes", [])]
    return {"namespaces": namespaces, "job_definitions": job_definitions, "s3": prefixes}


def registry_tags(registry: str, repository: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://{registry}/v2/{repository}/tags/list", timeout=10) as answer:
            return sorted(json.loads(answer.read()).get("tags") or [])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise


def mlflow_api(bed: series.Bed, path: str, body: dict[str, Any] | None = None, **query: str) -> dict[str, Any]:
    """One MLflow REST call (a GET with `query`, a POST with `body`), as the admin (anonymous ones get 401)."""
    token = base64.b64encode(f"admin:{bed.tracking.users['admin']}".encode()).decode()
    request = urllib.request.Request(f"{bed.tracking.url}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(query)}",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def flow_runs(bed: series.Bed, experiment: str) -> list[dict[str, str]]:
    """The tags of every flow run (MLflow parent run) in one experiment of the project."""
    found = mlflow_api(bed, "experiments/get-by-name", experiment_name=f"{bed.name}/{experiment}")
    runs = mlflow_api(bed, "runs/search", body={"experiment_ids": [found["experiment"]["experiment_id"]],
                                                "filter": "tags.`branchline.role` = 'flow'"}).get("runs", [])
    return [{t["key"]: t["value"] for t in run["data"].get("tags", [])} for run in runs]


def mlflow_state(bed: series.Bed) -> dict[str, Any]:
    """Production's and the branches' registered model: each version's namespace, and every alias."""
    found = {}
    for name in (series.model_name(bed.name), f"{series.model_name(bed.name)}-dev"):
        versions = mlflow_api(bed, "model-versions/search", filter=f"name='{name}'").get("model_versions", [])
        try:
            model = mlflow_api(bed, "registered-models/get", name=name)["registered_model"]
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            model = {}
        found[name] = {
            "versions": {v["version"]: {t["key"]: t["value"] for t in v.get("tags", [])}.get("namespace")
                         for v in versions},
            "aliases": {a["alias"]: a["version"] for a in model.get("aliases", [])}}
    return found


def version_tags(bed: series.Bed, name: str, version: str) -> dict[str, str]:
    found = mlflow_api(bed, "model-versions/get", name=name, version=version)["model_version"]
    return {t["key"]: t["value"] for t in found.get("tags", [])}


def gate_line(comment: str) -> str | None:
    """The status the PR comment's dry-run gate gives the flow (`pass`, `fail`, `unavailable`)."""
    found = re.search(rf"^- `{FLOW}`: \S+ (\w+)", comment, flags=re.MULTILINE)
    return found.group(1) if found else None


def comments(github: GitHubServer, number: int) -> list[str]:
    return [c["body"] for c in github.fake.on_issue(number)]


def lock_objects(bed: series.Bed) -> list[str]:
    found = []
    for make, bucket in ((client, bed.infra.bucket), (bed.production_client, bed.infra.production_bucket)):
        listed = make("s3").list_objects_v2(Bucket=bucket, Prefix=f"branchline/{bed.name}/")
        found += [f"{bucket}/{o['Key']}" for o in listed.get("Contents", []) if o["Key"].endswith("/.lock.json")]
    return found


def ok(run: series.ActRun, *jobs: str) -> None:
    assert run.returncode == 0, f"act {run.workflow} failed:\n{run.tail(120)}"
    for job in jobs:
        assert run.job_succeeded(job), f"{run.workflow} job {job} did not succeed:\n{run.tail(120)}"


def smoke_succeeded(run: series.ActRun) -> bool:
    return any("smoke run " in line and ": SUCCEEDED" in line for line in run.output.splitlines())


def production_run(bed: series.Bed) -> tuple[str, list[Any]]:
    """Start prod's flow through `live` as its schedule would (`branchline trigger`, production credentials) and
    wait for the execution to end: its final status and failure events."""
    env = {**os.environ, **series.account_credentials(bed.endpoint, series.PRODUCTION_ACCOUNT)}
    started = subprocess.run([str(bed.runner_bin / "branchline"), "trigger", "-n", "prod", "--flow", FLOW],
                             cwd=bed.project, env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    arn = started.stdout.strip().splitlines()[-1]
    assert f":{series.PRODUCTION_ACCOUNT}:" in arn, arn
    sfn = bed.production_client("stepfunctions")
    deadline = time.monotonic() + PRODUCTION_RUN_TIMEOUT_S
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING" and time.monotonic() < deadline:
        time.sleep(2)
    events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=20)["events"]
    return status, [e for e in events if "Failed" in e["type"]]


# ----------------------------------------------------------------------------- the series


def test_the_lifecycle_under_act(bed: series.Bed, github: GitHubServer) -> None:
    started = time.perf_counter()
    fake = github.fake
    ns1, ns2 = namespace_for_branch(HOSTILE), namespace_for_branch(OTHER)
    repo, prod_repo = bed.name, f"{bed.name}-prod"
    model = series.model_name(bed.name)
    dev_model = f"{model}-dev"
    no_model = {"versions": {}, "aliases": {}}
    assert state(bed)["mlflow"] == {model: no_model, dev_model: no_model}  # claimed for production, empty

    # 1. PR #1 opened from a hostile branch: tests, image built, namespace deployed, smoke run in containers.
    head1 = bed.push(HOSTILE, "hostile branch: a readme line", change={"NOTES.md": "one\n"})
    fake.open_pull(1, HOSTILE, sha=head1)
    run = bed.act("ci.yml", "pull_request", bed.pull_request_event("opened", 1, HOSTILE, head1), sha=head1)
    ok(run, "test", "pr")
    assert "building the platform's wheel" in run.output and "pushed " in run.output, run.tail()
    assert smoke_succeeded(run), run.tail(150)
    assert "\nhi\n" not in run.output and "| hi\n" not in run.output  # the branch name never reached a shell
    now = state(bed)
    (deps_tag,) = now["images"][repo]
    assert deps_tag.startswith("deps-")
    dev, prod_account = series.ACCOUNT, series.PRODUCTION_ACCOUNT
    assert now == {"namespaces": {ns1: {"versions": [1], "live": 1, "sha": head1, "account": dev}},
                   "job_definitions": {ns1: len(STEPS)}, "s3": [ns1], "images": {repo: [deps_tag], prod_repo: []},
                   "mlflow": {model: no_model, dev_model: {"versions": {"1": ns1}, "aliases": {}}}}
    (first_comment,) = comments(github, 1)
    assert first_comment.startswith("<!-- branchline:pr -->") and ns1 in first_comment and head1[:12] in first_comment
    assert f"`{dev_model}` v1" in first_comment and "champion (none yet)" in first_comment, first_comment
    assert gate_line(first_comment) == "pass", first_comment

    # 2. A code-only change: no image build, a new version, the comment updated in place.
    head1b = bed.push(HOSTILE, "flow code only", change={proj.FLOW_FILE: act_flow.flow_source(
        proj.package_name(bed.project), "v2")})
    run = bed.act("ci.yml", "pull_request", bed.pull_request_event("synchronize", 1, HOSTILE, head1b), sha=head1b)
    ok(run, "test", "pr")
    assert "already in the registry: no build" in run.output and "building" not in run.output.split("no build")[1]
    assert smoke_succeeded(run)
    now = state(bed)
    assert now["namespaces"] == {ns1: {"versions": [1, 2], "live": 2, "sha": head1b, "account": dev}}
    assert now["job_definitions"] == {ns1: 2 * len(STEPS)}  # version 1's revisions kept for rollback
    assert now["images"] == {repo: [deps_tag], prod_repo: []}
    assert now["mlflow"] == {model: no_model, dev_model: {"versions": {"1": ns1, "2": ns1}, "aliases": {}}}
    (updated,) = comments(github, 1)
    assert updated != first_comment and head1b[:12] in updated

    # 3. PR #2 from another branch: its own namespace.
    head2 = bed.push(OTHER, "another branch", change={"NOTES.md": "two\n"})
    fake.open_pull(2, OTHER, sha=head2)
    ok(bed.act("ci.yml", "pull_request", bed.pull_request_event("opened", 2, OTHER, head2), sha=head2), "pr")
    now = state(bed)
    assert set(now["namespaces"]) == {ns1, ns2}
    assert now["namespaces"][ns2] == {"versions": [1], "live": 1, "sha": head2, "account": dev}
    assert now["s3"] == sorted([ns1, ns2]) and now["images"][repo] == [deps_tag]
    branch_versions = {"1": ns1, "2": ns1, "3": ns2}
    assert now["mlflow"] == {model: no_model, dev_model: {"versions": branch_versions, "aliases": {}}}

    # 4. PR #3 from the same branch as #1, into a release branch: one namespace for both, no AWS change; its own
    #    smoke run (for its own comment) registers one more branch version.
    bed.push("release/1", "release branch", start="main")
    fake.open_pull(3, HOSTILE, base="release/1", sha=head1b)
    before = state(bed)
    run = bed.act("ci.yml", "pull_request", bed.pull_request_event("opened", 3, HOSTILE, head1b, base="release/1"),
                  sha=head1b)
    ok(run, "pr")
    assert smoke_succeeded(run)
    branch_versions = {**branch_versions, "4": ns1}
    before = {**before, "mlflow": {model: no_model, dev_model: {"versions": branch_versions, "aliases": {}}}}
    assert state(bed) == before
    assert len(comments(github, 3)) == 1 and comments(github, 1) == [updated]

    # 5. A fork's pull request: the tests run, the deploy job does not (no OIDC token, no comment).
    fake.open_pull(4, OTHER, head_repository="mallory/churn", sha=head2)
    run = bed.act("ci.yml", "pull_request", bed.pull_request_event("opened", 4, OTHER, head2,
                                                                   head_repository="mallory/churn"), sha=head2)
    ok(run, "test")
    assert not run.job_ran("pr"), run.tail()
    assert state(bed) == before and comments(github, 4) == []

    # 6. PR #2 merged: release.yml deploys prod with its own image; cleanup.yml removes PR #2's namespace.
    merged = bed.merge(OTHER)
    run = bed.act("release.yml", "push", {"ref": "refs/heads/main", "after": merged,
                                          "repository": {"full_name": series.REPOSITORY}}, sha=merged)
    ok(run, "release")
    # production's image is built on this daemon right after the pull requests' one, from the same inputs: not
    # one layer comes from the daemon's cache (a pull request's job could have built or planted it)
    built = [line for line in run.output.splitlines() if f"| building {bed.registry}/{prod_repo}:deps-" in line]
    assert built and "Using cache" not in run.output, run.tail(120)
    now = state(bed)
    (prod_deps,) = [t for t in now["images"][prod_repo] if t.startswith("deps-")]
    assert now["images"] == {repo: [deps_tag], prod_repo: sorted([prod_deps, f"prod-{merged}"])}
    assert now["namespaces"]["prod"] == {"versions": [1], "live": 1, "sha": merged, "account": prod_account}
    assert now["s3"] == sorted([ns1, ns2, "prod"]) and now["job_definitions"]["prod"] == len(STEPS)
    assert "prod" not in account_state(client, bed.infra.bucket, bed.name)["namespaces"]  # not in development
    assert now["mlflow"] == before["mlflow"]  # four branch runs, and production's model is untouched
    status, failures = production_run(bed)  # what the schedule starts: the flow in containers, production account
    assert status == "SUCCEEDED", failures
    # production's run registered production's first version and its gate moved `champion` to it
    champion = {"versions": {"1": "prod"}, "aliases": {"champion": "1"}}
    assert state(bed)["mlflow"] == {model: champion, dev_model: {"versions": branch_versions, "aliases": {}}}
    tags = version_tags(bed, model, "1")
    assert tags["branchline.gate"] == "passed" and tags["git_sha"] == merged and tags["flow"] == FLOW
    (prod_run,) = flow_runs(bed, FLOW)  # production's experiment: its flow run says what it did and from where
    assert prod_run["branchline.namespace"] == "prod" and prod_run["branchline.summary.gate"].startswith("passed")
    assert (prod_run["branchline.git_sha"], prod_run["branchline.branch"]) == (merged, "main")
    assert prod_run["branchline.summary.commit_url"] == f"https://github.invalid/{series.REPOSITORY}/commit/{merged}"
    assert {run["branchline.branch"] for run in flow_runs(bed, f"{FLOW}/dev")} == {HOSTILE, OTHER}
    fake.close_pull(2)
    run = bed.act("cleanup.yml", "pull_request", bed.pull_request_event("closed", 2, OTHER, head2), sha=head2)
    ok(run, "cleanup")
    now = state(bed)
    assert set(now["namespaces"]) == {ns1, "prod"} and ns2 not in now["job_definitions"] and ns2 not in now["s3"]

    # 7. A second release, then a rollback of prod (the CLI, as an operator runs it).
    second = bed.push("main", "main: flow code", start="main", change={proj.FLOW_FILE: act_flow.flow_source(
        proj.package_name(bed.project), "v3")})
    ok(bed.act("release.yml", "push", {"ref": "refs/heads/main", "after": second,
                                       "repository": {"full_name": series.REPOSITORY}}, sha=second), "release")
    now = state(bed)
    assert now["namespaces"]["prod"] == {"versions": [1, 2], "live": 2, "sha": second, "account": prod_account}
    assert now["images"][prod_repo] == sorted([prod_deps, f"prod-{merged}", f"prod-{second}"])  # no new build
    rolled = subprocess.run([str(bed.runner_bin / "branchline"), "rollback", "-n", "prod", "--flow", FLOW],
                            cwd=bed.project, capture_output=True, text=True, timeout=120,
                            env={**os.environ, **series.account_credentials(bed.endpoint, prod_account)})
    assert rolled.returncode == 0, rolled.stderr
    assert state(bed)["namespaces"]["prod"]["live"] == 1

    # 8. PR #1 updated after the release: its dry run now judges against production's champion, which stays.
    head1c = bed.push(HOSTILE, "flow code after the release", change={proj.FLOW_FILE: act_flow.flow_source(
        proj.package_name(bed.project), "v4")})
    run = bed.act("ci.yml", "pull_request", bed.pull_request_event("synchronize", 1, HOSTILE, head1c), sha=head1c)
    ok(run, "pr")
    assert smoke_succeeded(run)
    now = state(bed)
    assert now["namespaces"][ns1]["sha"] == head1c
    branch_versions = {**branch_versions, "5": ns1}
    assert now["mlflow"] == {model: champion, dev_model: {"versions": branch_versions, "aliases": {}}}
    (judged,) = comments(github, 1)
    assert "champion v1" in judged and gate_line(judged) == "pass", judged

    # 9. PR #1 closed: its namespace stays, PR #3 still uses the branch.
    fake.close_pull(1)
    run = bed.act("cleanup.yml", "pull_request", bed.pull_request_event("closed", 1, HOSTILE, head1c), sha=head1c)
    ok(run, "cleanup")
    assert f"namespace {ns1} kept" in run.output and "#3" in run.output
    assert set(state(bed)["namespaces"]) == {ns1, "prod"}

    # 10. The branch deleted (GitHub closes PR #3; say its cleanup never ran): prune.yml removes the orphan.
    bed.delete_branch(HOSTILE)
    bed.delete_branch("release/1")
    fake.close_pull(3)
    main_sha = series.git(bed.project, "rev-parse", "main")
    run = bed.act("prune.yml", "workflow_dispatch", {"ref": "refs/heads/main",
                                                     "repository": {"full_name": series.REPOSITORY}}, sha=main_sha)
    ok(run, "prune")
    final = state(bed)
    assert set(final["namespaces"]) == {"prod"} and set(final["job_definitions"]) == {"prod"}
    assert final["s3"] == ["prod"]
    assert final["mlflow"] == {model: champion, dev_model: {"versions": branch_versions, "aliases": {}}}
    assert lock_objects(bed) == [f"{bed.infra.production_bucket}/{Names(bed.name, 'prod').s3_prefix()}/.lock.json"]

    ran = {run.workflow for run in bed.runs}
    assert ran == {"ci.yml", "release.yml", "cleanup.yml", "prune.yml"}
    assert ran == {p.name for p in (bed.project / ".github" / "workflows").glob("*.yml")}
    seconds = time.perf_counter() - started
    print(f"act series: {seconds:.0f} s; " + ", ".join(f"{r.workflow} {r.seconds:.0f} s" for r in bed.runs))
