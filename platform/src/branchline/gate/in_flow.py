"""The gate inside a flow: what a flow's `end` step calls (`evaluate_in_flow`), promoting in `prod` and
dry-running anywhere else, with `NothingToJudge` for a person's own run that registered no model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console

from branchline.authoring.current import current
from branchline.config import Config, load_config
from branchline.gate.promote import GateOutcome, run_gate
from branchline.gate.provenance import NoCandidateError
from branchline.gate.rules import GateFailed, GateRefused
from branchline.namespaces import PRODUCTION_NAMESPACE, is_user_namespace
from branchline.namespaces.mlflow_tags import PARENT_RUN_TAG
from branchline.tracking.models import how_to_ask


@dataclass(frozen=True)
class NothingToJudge:
    """A run in a person's own namespace that registered no model: no verdict, and not a failure."""

    namespace: str
    reason: str
    promoted: bool = False
    dry_run: bool = True

    @property
    def message(self) -> str:
        return f"gate: nothing to judge: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"passed": None, "action": self.message, "dry_run": True, "namespace": self.namespace}


def evaluate_in_flow(
    flow: str | None = None,
    *,
    model: str | None = None,
    raise_on_failure: bool = False,
    console: Console | None = None,
) -> GateOutcome | NothingToJudge:
    """For a flow's `end` step: judge this run's model; promote in `prod`, dry-run anywhere else.

    Returns the outcome (store `outcome.as_dict()` as an artifact); a failed verdict raises only with
    `raise_on_failure=True`. A missing tracking run or unreachable MLflow raises (the gate fails closed),
    and so does a missing candidate in a branch namespace or `prod`; in a person's own namespace, whose
    runs register only when asked, a run without a version is `NothingToJudge` (one line, no failure).
    """
    if not current.is_running_flow:
        raise GateRefused("evaluate_in_flow() runs inside a flow step", hint="use `branchline promote` outside flows")
    import mlflow  # opens this task's tracking run (see branchline.tracking.task_run)

    active = mlflow.active_run()
    if active is None:
        raise GateRefused(
            "the gate needs this run to be tracked in MLflow, and it is not",
            hint="enable tracking (unset BRANCHLINE_TRACKING=0) so the flow's metrics and checks are recorded",
        )
    flow_run = active.data.tags.get(PARENT_RUN_TAG) or active.info.run_id
    namespace = current.namespace
    if console is None:
        console = Console(highlight=False)  # the report goes to the task's log
    config = load_config()
    try:
        outcome = run_gate(
            flow=flow or current.flow_name,
            model=model,
            dry_run=namespace != PRODUCTION_NAMESPACE,
            namespace=namespace,
            config=config,
            flow_run_mlflow_id=flow_run,
            console=console,
        )
    except NoCandidateError:
        if not is_user_namespace(namespace):
            raise
        nothing = NothingToJudge(str(namespace), _unregistered_reason(config))
        console.print(nothing.message, markup=False, soft_wrap=True)
        return nothing
    if raise_on_failure and not outcome.passed:
        raise GateFailed(f"promotion gate failed: {outcome.verdict.summary}")
    return outcome


def _unregistered_reason(config: Config) -> str:
    if config.register_local_models:
        return "this run registered no model (call branchline.tracking.models.register_model in a step)"
    return f"this run registered no model (a local run registers only when asked: {how_to_ask(config)})"
