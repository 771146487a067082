"""Model registration from inside a step: log the model into the task's run and register a version.

The version carries the run's identity (namespace, run id, git sha, flow, step) as tags, so the gate and
a human can tell which branch and commit produced it. The alias `champion` is the gate's business.
Production registers under the model's own name; every other namespace under `<name>-dev`
(`registered_model_name`), so no branch ever writes production's registered model.

A person's own namespace (`user-<name>`, a laptop's default) registers only when asked
(`BRANCHLINE_REGISTER_MODELS=1` or `[tool.branchline] register_local_models = true`): a version per
laptop run is noise in the registry, and logging the model is most of a small flow's tracking time.
Branch namespaces and `prod` always register: the gate needs the candidate.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from branchline.config import Config, load_config
from branchline.namespaces import is_user_namespace
from branchline.namespaces.mlflow_tags import FLOW_TAG, NAMESPACE_TAG, PROJECT_TAG, VERSION_TAGS
from branchline.namespaces.names import registered_model_name
from branchline.tracking.connect import TrackingError, TrackingSession

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion


def default_model_name(project: str, flow: str, config: Config | None = None) -> str:
    """`[tool.branchline.gates.<Flow>] model`, else `<project>-<flow lowercase>`."""
    if config is None:
        config = load_config()
    configured = config.get(f"gates.{flow}.model")
    return str(configured) if configured else f"{project}-{flow.lower()}"


def registers(namespace: str | None, *, asked: bool) -> bool:
    """Does a run in `namespace` register its model? A person's own namespace only when asked; every
    other namespace (branches, `prod`) always, because the gate judges the version it registered."""
    return asked or not is_user_namespace(namespace)


def how_to_ask(config: Config) -> str:
    """The command (and the setting) that make a local run register its model; names the project's flow
    file when `[tool.branchline] flows` lists just one."""
    flows = config.get("flows")
    flow_file = str(flows[0]) if isinstance(flows, list) and len(flows) == 1 else "<flow file>"
    return f"BRANCHLINE_REGISTER_MODELS=1 python {flow_file} run, or set [tool.branchline] register_local_models = true"


def version_tags(run_tags: dict[str, str], extra: dict[str, Any] | None = None) -> dict[str, str]:
    """The version's tags: the run's identity under short names, then the caller's own."""
    tags = {short: run_tags[key] for key, short in VERSION_TAGS.items() if run_tags.get(key)}
    tags.update({str(k): str(v) for k, v in (extra or {}).items() if v is not None})
    return tags


def register_model(
    model: Any,
    *,
    name: str | None = None,
    flavor: str = "sklearn",
    input_example: Any = None,
    tags: dict[str, Any] | None = None,
    **log_options: Any,
) -> ModelVersion | None:
    """Log `model` with `mlflow.<flavor>.log_model` into the active task run and register it.

    `name` (default: the gate's model of this flow) is production's name; outside production the
    version goes to `<name>-dev`. In a person's own namespace, unless asked (`registers`), nothing is
    logged: it prints one line saying so and how to ask, and returns None. With `flavor="pyfunc"`,
    `model` is a `mlflow.pyfunc.PythonModel` (your own model class); `log_options` go to `log_model`
    as they are (e.g. `pip_requirements`, which spares MLflow inferring them in a subprocess).
    """
    import mlflow

    run = mlflow.active_run()
    if run is None:
        raise TrackingError(
            "register_model() needs an active MLflow run",
            hint="call it inside a step of a flow run with tracking enabled (not BRANCHLINE_TRACKING=0)",
        )
    try:
        flavor_module = importlib.import_module(f"mlflow.{flavor}")
    except ImportError:
        raise TrackingError(
            f"unknown MLflow model flavor {flavor!r}", hint="use a module name of mlflow, e.g. 'sklearn'"
        ) from None
    config = load_config()
    uri = mlflow.get_tracking_uri()
    session = TrackingSession(mlflow.MlflowClient(tracking_uri=uri, registry_uri=mlflow.get_registry_uri()), uri)
    client = session.client
    run_tags = session.call("read the task run", client.get_run, run.info.run_id).data.tags
    project = run_tags.get(PROJECT_TAG) or "project"
    flow = run_tags.get(FLOW_TAG) or run.info.run_name or "flow"
    namespace = run_tags.get(NAMESPACE_TAG)
    model_name = registered_model_name(name or default_model_name(project, flow, config), namespace)
    if not registers(namespace, asked=config.register_local_models):
        print(f"model not registered (a local run in {namespace} registers only when asked): "
              f"{how_to_ask(config)}", flush=True)  # fmt: skip
        return None
    model_arguments: dict[str, Any] = {"python_model": model} if flavor == "pyfunc" else {}
    info = session.call(
        f"log and register model {model_name}",
        flavor_module.log_model,
        *(() if model_arguments else (model,)),
        name="model",
        input_example=input_example,
        registered_model_name=model_name,
        **model_arguments,
        **log_options,
    )
    version = str(info.registered_model_version)
    for key, value in version_tags(run_tags, tags).items():
        session.call("tag the model version", client.set_model_version_tag, model_name, version, key, value)
    return session.call("read the model version", client.get_model_version, model_name, version)
