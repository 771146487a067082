"""Read runs back, as Metaflow's client does: `Flow("TrainFlow").latest_run.data.model`, `Run("TrainFlow/<id>")`.

`namespace()`, `get_namespace()`, `default_namespace()` choose which runs are visible (`scope.py`); the
objects (`objects.py`; finding them: `lookup.py`; their artifacts: `data.py`) read the records and artifacts of
the datastore: `.branchline/datastore` on this machine, `BRANCHLINE_DATASTORE` or `datastore(url)` (a directory
or `s3://...`), or a deployment's bucket for `namespace('production:<namespace>')`.
"""

from branchline.client.objects import (
    Data,
    DataArtifact,
    Flow,
    Metaflow,
    NamespaceMismatch,
    NotFound,
    Run,
    Step,
    Task,
    latest_run,
)
from branchline.client.scope import datastore, default_namespace, get_namespace, namespace

__all__ = [
    "Data",
    "DataArtifact",
    "Flow",
    "Metaflow",
    "NamespaceMismatch",
    "NotFound",
    "Run",
    "Step",
    "Task",
    "datastore",
    "default_namespace",
    "get_namespace",
    "latest_run",
    "namespace",
]
