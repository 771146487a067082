"""A local run through the real runtime, in a fresh interpreter: `python run_flow.py FLOW_FILE [k=v ...]`.

Prints one JSON line: the run id and whether the runtime process imported mlflow.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from branchline.runtime.launcher import LocalSession
from branchline.runtime.loader import load_flow_class
from branchline.runtime.local import RunOptions

if __name__ == "__main__":
    flow_cls = load_flow_class(Path(sys.argv[1]))
    params = dict(arg.split("=", 1) for arg in sys.argv[2:])
    result = LocalSession(flow_cls).run(params, RunOptions(quiet=True, max_workers=4), wait_tracking=True)
    print(json.dumps({"run_id": result.run_id, "status": result.status, "mlflow_imported": "mlflow" in sys.modules}))
