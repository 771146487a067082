"""A step that waits until the run is stopped (in a first run only: a resumed run goes straight through)."""

import time

from branchline import FlowSpec, current, step


class StoppableFlow(FlowSpec):
    @step
    def start(self):
        self.token = "from start"
        self.next(self.wait)

    @step
    def wait(self):
        if current.origin_run_id is None:
            time.sleep(600)
        self.next(self.end)

    @step
    def end(self):
        self.result = self.token


if __name__ == "__main__":
    StoppableFlow()
