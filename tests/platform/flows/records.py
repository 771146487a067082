"""A task looks for its own record while it runs; another worker dies without writing one ($FLOW_STATE/die)."""

import os
from pathlib import Path

from branchline import FlowSpec, current, step

STATE = Path(os.environ.get("FLOW_STATE", "."))
DATASTORE = Path(".branchline") / "datastore"


class RecordsFlow(FlowSpec):
    @step
    def start(self):
        own = DATASTORE / current.namespace / "runs" / current.flow_name / current.run_id / "start" / "0"
        self.record_while_running = (own / "meta.json").exists()
        self.next(self.end)

    @step
    def end(self):
        if (STATE / "die").exists():
            os._exit(7)


if __name__ == "__main__":
    RecordsFlow()
