"""A task process, as the runtime (local worker) or a step container runs it: activate, step, deactivate.

Run as a script by the tests (a fresh interpreter, so `sys.modules` says what the task really imported).
argv[1] is a JSON object: datastore, namespace, project, flow, run_id, step, task_id, uri, mode, action.
Prints one JSON line: what happened (run id, whether mlflow was imported before the step, ...).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import LocalStorage
from branchline.tracking import task_run


def step_body(action: str) -> None:
    """The user's step: imports mlflow inside its body, like a data scientist would."""
    if action == "none":
        return
    import mlflow

    if action in ("metric", "fail"):
        mlflow.log_metric("accuracy", 0.93)
        mlflow.log_param("inner", "yes")
        mlflow.log_text("fold report", "reports/notes.txt")
    if action == "fail":
        raise RuntimeError("boom")
    if action == "register":
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        from branchline.tracking.models import register_model

        x, y = load_iris(return_X_y=True)
        model = LogisticRegression(max_iter=300).fit(x, y)
        mlflow.log_metric("accuracy", float(model.score(x, y)))
        version = register_model(model, input_example=x[:2], tags={"dataset": "iris"})
        print(json.dumps({"model_name": version.name, "model_version": version.version}), file=sys.stderr)
    if action == "register_pyfunc":  # the user's own model class, its requirements given (none inferred)
        from mlflow.pyfunc import PythonModel

        from branchline.tracking.models import register_model

        class Doubler(PythonModel):
            def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
                return [2 * value for value in model_input]

        version = register_model(Doubler(), flavor="pyfunc", pip_requirements=["branchline"], tags={"kind": "own"})
        print(json.dumps({"model_name": version.name, "model_version": version.version}), file=sys.stderr)


def main(spec: dict[str, Any]) -> dict[str, Any]:
    ds = FlowDatastore(LocalStorage(spec["datastore"]), spec["namespace"])
    ctx = task_run.TaskTracking(
        datastore=ds,
        namespace=spec["namespace"],
        project=spec["project"],
        flow=spec["flow"],
        run_id=spec["run_id"],
        step=spec["step"],
        task_id=spec.get("task_id", "0"),
        attempt=spec.get("attempt", 0),
        tracking_uri=spec["uri"],
        tags=spec.get("tags", {}),
        mode=spec.get("mode", "recorder"),
        link_wait=spec.get("link_wait", 60),
    )
    before = "mlflow" in sys.modules
    handle = task_run.activate(ctx)
    hooked = any(type(f).__name__ == "_MlflowImportHook" for f in sys.meta_path)
    failed = False
    error = None
    try:
        step_body(spec["action"])
    except Exception as exc:
        failed, error = True, f"{type(exc).__name__}: {exc}"
    run_id = task_run.deactivate(handle, failed=failed, tags=spec.get("end_tags"))
    return {
        "mlflow_run_id": run_id,
        "mlflow_imported_before_step": before,
        "mlflow_imported_after": "mlflow" in sys.modules,
        "hook_installed": hooked,
        "hook_left": any(type(f).__name__ == "_MlflowImportHook" for f in sys.meta_path),
        "failed": failed,
        "error": error,
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
