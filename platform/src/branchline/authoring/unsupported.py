"""Metaflow features branchline does not have: importable names that stop a flow before anything runs.

A Metaflow flow whose import line is changed must not half-work: `from branchline import card` succeeds (so the
flow file loads), the decorator marks what it decorates, and `check_supported` (called when the flow's graph is
read: before a local run, a deploy or a task starts) refuses the flow with one line naming the feature and what
to use instead. Called anywhere else (`S3()` inside a step), an unsupported name raises that same line.
Commands (`python flow.py argo-workflows ...`) get the same treatment from `UNSUPPORTED_COMMANDS`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from branchline.errors import FlowError

MARK = "_branchline_unsupported"


class UnsupportedFeature(FlowError):
    """A Metaflow feature branchline does not implement (the message names the alternative)."""


@dataclass(frozen=True)
class Unsupported:
    """One Metaflow name branchline does not support, and what to use instead."""

    name: str
    feature: str
    instead: str

    def error(self) -> UnsupportedFeature:
        return UnsupportedFeature(f"{self.feature} is not supported by branchline", hint=self.instead)


_STEP_IMAGE = "put the dependencies in the project's step image (Dockerfile, requirements.txt)"

DECORATORS: dict[str, Unsupported] = {
    u.name: u
    for u in (
        Unsupported("conda", "@conda (per-step conda environments)",
                    f"for PyPI packages use @pypi (per step) or @pypi_base; for the rest {_STEP_IMAGE}"),
        Unsupported("conda_base", "@conda_base (a conda environment for the flow)",
                    f"use @pypi_base for PyPI packages; for conda-only packages {_STEP_IMAGE}"),
        Unsupported("card", "@card (Metaflow cards)",
                    "log figures and reports to MLflow (mlflow.log_figure / log_artifact) in the step"),
        Unsupported("kubernetes", "@kubernetes (steps on Kubernetes)",
                    "steps run on AWS Batch: use @batch or @resources, deployed with step-functions create"),
        Unsupported("secrets", "@secrets", "read secrets in the step (boto3 Secrets Manager, with the job role)"),
        Unsupported("parallel", "@parallel (multi-node gang scheduling)", "use a foreach over the shards instead"),
        Unsupported("pytorch_parallel", "@pytorch_parallel (multi-node training)",
                    "train on one node (@resources(gpu=N)) or fan out with a foreach"),
        Unsupported("trigger", "@trigger (event triggering)",
                    "start runs with step-functions trigger, or schedule them with @schedule"),
        Unsupported("trigger_on_finish", "@trigger_on_finish (flows triggering flows)",
                    "start the next flow with step-functions trigger, or @schedule it after the first one"),
        Unsupported("exit_hook", "@exit_hook", "handle success in the end step; Step Functions reports failures"),
        Unsupported("airflow_s3_key_sensor", "@airflow_s3_key_sensor (Airflow)", "deploy with step-functions create"),
        Unsupported("airflow_external_task_sensor", "@airflow_external_task_sensor (Airflow)",
                    "deploy with step-functions create"),
    )
}
"""Decorators: usable as `@x` and `@x(...)` on steps and flows; the flow is refused before anything runs."""

NAMES: dict[str, Unsupported] = {
    u.name: u
    for u in (
        Unsupported("Config", "Config (flow configuration files)",
                    "use Parameter (or IncludeFile) for values, [tool.branchline] for the platform's settings"),
        Unsupported("config_expr", "config_expr", "use Parameter (or IncludeFile) for values"),
        Unsupported("S3", "metaflow.S3", "use boto3 in the step (the job role grants the datastore bucket)"),
        Unsupported("Runner", "Runner (running flows from Python)",
                    "run `python flow.py run` as a subprocess, then read the run with Flow(...).latest_run"),
        Unsupported("NBRunner", "NBRunner", "run `python flow.py run` from the notebook's shell (!python ...)"),
        Unsupported("Deployer", "Deployer (deploying from Python)",
                    "run `python flow.py step-functions create` (or branchline deploy)"),
        Unsupported("NBDeployer", "NBDeployer", "run `python flow.py step-functions create` from a shell"),
        Unsupported("metadata", "metadata() (metadata providers)",
                    "records live with the artifacts: choose the datastore with branchline.client.datastore()"),
        Unsupported("get_metadata", "get_metadata()", "see branchline.client.datastore() and docs/metaflow.md"),
        Unsupported("default_metadata", "default_metadata()", "see branchline.client.datastore() and docs/metaflow.md"),
        Unsupported("FlowMutator", "FlowMutator (custom flow decorators)", "write the flow's steps out"),
        Unsupported("StepMutator", "StepMutator (custom step decorators)", "write the step's decorators out"),
        Unsupported("UserStepDecorator", "UserStepDecorator (custom step decorators)", "call a function in the step"),
        Unsupported("user_step_decorator", "user_step_decorator", "call a function in the step"),
        Unsupported("parallel_map", "parallel_map", "use concurrent.futures in the step, or a foreach"),
        Unsupported("parallel_imap_unordered", "parallel_imap_unordered", "use concurrent.futures in the step"),
        Unsupported("profile", "profile", "time the block with time.perf_counter()"),
    )
}
"""Other top-level names: refused when a flow imports them, and when called."""

COMMANDS: dict[str, Unsupported] = {
    u.name: u
    for u in (
        Unsupported("argo-workflows", "argo-workflows (Argo Workflows on Kubernetes)",
                    "deploy to AWS Step Functions: python FLOW.py step-functions create"),
        Unsupported("airflow", "airflow (Apache Airflow)",
                    "deploy to AWS Step Functions: python FLOW.py step-functions create"),
        Unsupported("kubernetes", "the kubernetes command", "steps run on AWS Batch (see docs/metaflow.md)"),
        Unsupported("batch", "the batch command group",
                    "see a deployed run's jobs with branchline status / branchline logs"),
        Unsupported("card", "the card command (Metaflow cards)", "open the run in MLflow: branchline ui"),
        Unsupported("tag", "the tag command (run tags)",
                    "tag the run's MLflow run, or use namespaces (docs/metaflow.md)"),
        Unsupported("logs", "the logs command",
                    "read Task('Flow/run/step/task').stdout, or branchline logs --step STEP for a deployed run"),
        Unsupported("dump", "the dump command", "read Run('Flow/run')['step'].task.data in Python"),
        Unsupported("package", "the package command", "branchline builds code packages when it deploys"),
        Unsupported("check", "the check command", "the graph is checked before every run: python FLOW.py show"),
        Unsupported("output-dot", "the output-dot command", "python FLOW.py show prints the graph"),
        Unsupported("output-raw", "the output-raw command", "python FLOW.py show prints the graph"),
        Unsupported("spin", "the spin command", "re-run a step of an earlier run: python FLOW.py resume RUN --step S"),
        Unsupported("spot-metadata", "the spot-metadata command", "steps run on AWS Batch, not Kubernetes"),
        Unsupported("version", "the version command", "pip show branchline"),
    )
}
"""Flow-file commands (`python flow.py <command>`) branchline does not have."""


def _mark(target: Any, name: str) -> Any:
    setattr(target, MARK, (*getattr(target, MARK, ()), name))
    return target


DEFERRED = frozenset({"Config", "config_expr"})
"""Names called in a class body (`config = Config(...)`): the call must not fail at import, the flow is refused."""


class _Placeholder:
    """What a deferred name's call returns; the flow that holds it is refused before anything runs."""

    def __init__(self, name: str) -> None:
        setattr(self, MARK, (name,))


class UnsupportedName:
    """What `from branchline import <unsupported>` gives: a decorator that marks, a value that waits to be refused,
    or anything else that refuses when called."""

    def __init__(self, spec: Unsupported, *, decorator: bool) -> None:
        self.spec = spec
        self.decorator = decorator
        self.__name__ = spec.name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.spec.name in DEFERRED:
            return _Placeholder(self.spec.name)
        if not self.decorator:
            raise self.spec.error()
        if len(args) == 1 and not kwargs and (inspect.isfunction(args[0]) or inspect.isclass(args[0])):
            return _mark(args[0], self.spec.name)  # @card
        if args:
            raise self.spec.error()
        return lambda target: _mark(target, self.spec.name)  # @card(type="blank")

    def __repr__(self) -> str:
        return f"<{self.spec.feature}: not supported by branchline>"


def exported() -> dict[str, UnsupportedName]:
    """The names the `branchline` package exports so that Metaflow imports resolve."""
    names = {n: UnsupportedName(u, decorator=True) for n, u in DECORATORS.items()}
    names.update({n: UnsupportedName(u, decorator=False) for n, u in NAMES.items()})
    return names


def _first_marked(flow_cls: type) -> str | None:
    marked = [*getattr(flow_cls, MARK, ())]
    for klass in reversed(flow_cls.__mro__):
        for value in vars(klass).values():
            marked += getattr(value, MARK, ())
    return marked[0] if marked else None


def check_supported(flow_cls: type, module_globals: dict[str, Any] | None = None) -> None:
    """Refuse the flow when it uses (or its module imports) a Metaflow feature branchline does not have."""
    name = _first_marked(flow_cls)
    if name is None:
        scope = module_globals if module_globals is not None else vars(inspect.getmodule(flow_cls) or object())
        name = next((v.spec.name for v in scope.values() if isinstance(v, UnsupportedName)), None)
    if name is not None:
        spec = DECORATORS.get(name) or NAMES[name]
        raise spec.error()


def unsupported_command(name: str) -> Callable[[], None]:
    """What a flow-file command branchline lacks does: refuse, in one line."""
    spec = COMMANDS[name]

    def refuse() -> None:
        raise spec.error()

    return refuse
