"""Links a reviewer clicks: the MLflow UI, the AWS console, the git host (pure functions, no I/O).

Used by the flow run's summary (on its MLflow run) and by the PR comment (`ci.report`), so both point at the
same pages. A link is made only where a browser can open it: an MLflow store that is not an HTTP server
(a local sqlite file) gets none, an image outside ECR gets none.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                        r"(?P<repo>[^@:]+)@(?P<digest>sha256:[0-9a-f]{64})$")


def _console_domain(region: str) -> str:
    return "console.amazonaws.cn" if region.startswith("cn-") else "console.aws.amazon.com"


def console_base(region: str) -> str:
    return f"https://{region}.{_console_domain(region)}/states/home?region={region}"


def state_machine_console_url(region: str, arn: str) -> str:
    return f"{console_base(region)}#/statemachines/view/{quote(arn, safe='')}"


def execution_console_url(region: str, execution_arn: str) -> str:
    return f"{console_base(region)}#/v2/executions/details/{quote(execution_arn, safe='')}"


def execution_url(execution_arn: str | None) -> str | None:
    """The Step Functions console page of an execution ARN (its region read from the ARN)."""
    parts = (execution_arn or "").split(":")
    if len(parts) < 8 or parts[2] != "states" or not parts[3]:
        return None
    return execution_console_url(parts[3], str(execution_arn))


def image_url(image: str | None) -> str | None:
    """The ECR console page of an image pinned by digest; None for other registries."""
    match = _ECR_IMAGE.match(image or "")
    if not match:
        return None
    region = match["region"]
    return (f"https://{region}.{_console_domain(region)}/ecr/repositories/private/{match['account']}/"
            f"{quote(match['repo'], safe='')}/_/image/{match['digest']}/details?region={region}")


def is_browsable(tracking_uri: str | None) -> bool:
    return bool(tracking_uri) and str(tracking_uri).startswith(("http://", "https://"))


def mlflow_home_url(tracking_uri: str | None) -> str | None:
    return str(tracking_uri).rstrip("/") + "/" if is_browsable(tracking_uri) else None


ML_VIEW = "?workflowType=machine_learning"
"""MLflow 3's UI opens in its GenAI view (traces) unless told otherwise: a flow's runs are model training"""


def mlflow_experiment_fragment(experiment_id: str) -> str:
    """The UI's run table of an experiment, in its model-training view."""
    return f"#/experiments/{quote(str(experiment_id))}/runs{ML_VIEW}"


def mlflow_run_fragment(experiment_id: str, run_id: str) -> str:
    """The UI's route to a run (`#/experiments/1/runs/abc`): relative, so it works wherever the UI is served."""
    return f"#/experiments/{quote(str(experiment_id))}/runs/{quote(run_id)}{ML_VIEW}"


def model_version_fragment(model: str, version: str) -> str:
    return f"#/models/{quote(model, safe='')}/versions/{quote(str(version))}"


def mlflow_run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str | None:
    """A link into the MLflow UI, only for servers a browser can open (http/https)."""
    home = mlflow_home_url(tracking_uri)
    return home + mlflow_run_fragment(experiment_id, run_id) if home else None


def model_version_url(tracking_uri: str | None, model: str, version: str) -> str | None:
    home = mlflow_home_url(tracking_uri)
    return home + model_version_fragment(model, version) if home else None


def git_links(ci: dict[str, object] | None, sha: str | None) -> dict[str, str]:
    """Commit, pull request and workflow run pages on the git host, when CI told us the repository."""
    ci = ci or {}
    server, repo = ci.get("server_url"), ci.get("repository")
    if not server or not repo:
        return {}
    base = f"{str(server).rstrip('/')}/{repo}"
    links: dict[str, str] = {}
    if sha:
        links["commit"] = f"{base}/commit/{sha}"
    if ci.get("pr_number"):
        links["pull_request"] = f"{base}/pull/{ci['pr_number']}"
    if ci.get("run_id"):
        links["workflow_run"] = f"{base}/actions/runs/{ci['run_id']}"
    return links
