"""A smoke run of a freshly deployed flow: start it on `live` with small parameters, wait, bounded.

Settings, in `[tool.branchline.ci]`: `smoke_flow` (optional when the project has one flow),
`smoke_params` (a table of parameter values, typed against the flow like `--param`), `smoke_timeout`
(seconds, default 1800). The wait polls with a growing interval and gives up at the deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from branchline.aws.ops.trigger import start_run, typed_params
from branchline.aws.session import aws_errors, client
from branchline.ci.context import CIError
from branchline.ci.report import SmokeOutcome, execution_console_url, mlflow_run_url
from branchline.config import Config
from branchline.datastore.storage import S3Storage
from branchline.graph.model import FlowGraph
from branchline.namespaces import Names
from branchline.tracking.tags import mlflow_json_key

DEFAULT_TIMEOUT_S = 1800.0
FIRST_POLL_S = 0.5
MAX_POLL_S = 5.0
"""A short run is reported at most this late: the interval doubles from half a second, and at 15 s a 20 s
run waited 10 s more than it ran (DescribeExecution costs nothing worth saving)."""
FINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class SmokePlan:
    flow: str
    params: dict[str, Any]
    timeout_s: float


def smoke_plan(config: Config, graphs: Mapping[str, FlowGraph], *, flow: str | None = None,
               timeout_s: float | None = None) -> SmokePlan:
    """Which flow to run with which (typed) parameters, from the options and `[tool.branchline.ci]`."""
    section = config.section("ci")
    chosen = flow or section.get("smoke_flow")
    if not chosen:
        if len(graphs) != 1:
            raise CIError("--smoke: this project deploys several flows: say which one to run",
                          hint=f"set tool.branchline.ci.smoke_flow to one of {', '.join(sorted(graphs))}, "
                               "or pass --smoke-flow")
        chosen = next(iter(graphs))
    if chosen not in graphs:
        raise CIError(f"smoke flow {chosen!r} is not deployed by this project",
                      hint=f"deployed flows: {', '.join(sorted(graphs))}")
    raw = section.get("smoke_params", {})
    if not isinstance(raw, dict):
        raise CIError("tool.branchline.ci.smoke_params must be a table of parameter values",
                      hint='e.g. smoke_params = { max_rows = 100, epochs = 1 }')
    params = typed_params(graphs[str(chosen)], raw)
    limit = timeout_s if timeout_s is not None else section.get("smoke_timeout", DEFAULT_TIMEOUT_S)
    if isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0:
        raise CIError(f"tool.branchline.ci.smoke_timeout must be a positive number of seconds, not {limit!r}")
    return SmokePlan(str(chosen), params, float(limit))


def wait_for(describe: Callable[[], str], timeout_s: float, *, sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> str:
    """Poll `describe()` (a status) until it is final or `timeout_s` passed; returns the last status."""
    deadline = clock() + timeout_s
    delay = FIRST_POLL_S
    while True:
        status = describe()
        if status in FINAL or clock() >= deadline:
            return status
        sleep(min(delay, max(deadline - clock(), 0.0)))
        delay = min(delay * 2, MAX_POLL_S)


def _mlflow_link(names: Names, bucket: str, flow: str, run_id: str) -> str | None:
    """The MLflow run of the smoke run, from the `mlflow.json` its tasks publish in the datastore."""
    try:
        raw = S3Storage(bucket, names.s3_prefix(), client("s3")).get_bytes(mlflow_json_key(f"runs/{flow}/{run_id}"))
        link = json.loads(raw)
    except (KeyError, ValueError):
        return None
    if not isinstance(link, dict) or not all(isinstance(link.get(k), str) for k in ("tracking_uri", "experiment_id",
                                                                                   "run_id")):
        return None
    return mlflow_run_url(link["tracking_uri"], link["experiment_id"], link["run_id"])


def run_smoke(plan: SmokePlan, names: Names, *, bucket: str, region: str, run_id: str | None = None) -> SmokeOutcome:
    """Start the run through the `live` alias and wait for it (at most `plan.timeout_s`)."""
    with aws_errors(f"smoke run of {plan.flow} in {names.namespace}"):
        arn = start_run(client, names, plan.flow, plan.params, run_id)
        sfn = client("stepfunctions")
        status = wait_for(lambda: str(sfn.describe_execution(executionArn=arn)["status"]), plan.timeout_s)
        mlflow = _mlflow_link(names, bucket, plan.flow, arn.rsplit(":", 1)[1])
    return SmokeOutcome(plan.flow, arn.rsplit(":", 1)[1], arn, status, execution_console_url(region, arn),
                        dict(plan.params), mlflow)


def smoke_failure(outcome: SmokeOutcome, timeout_s: float) -> CIError | None:
    """The error that fails the job (after the comment is written) when the smoke run did not succeed."""
    if outcome.status == "SUCCEEDED":
        return None
    if outcome.status not in FINAL:
        return CIError(f"smoke run {outcome.run_id} of {outcome.flow} still {outcome.status} after {timeout_s:g} s",
                       hint="raise tool.branchline.ci.smoke_timeout, or make smoke_params smaller")
    return CIError(f"smoke run {outcome.run_id} of {outcome.flow} ended {outcome.status}",
                   hint=f"see `branchline status -n <namespace> --flow {outcome.flow} --run-id {outcome.run_id}`")
