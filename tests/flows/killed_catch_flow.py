"""@catch when the task cannot record its own failure: `dies` ends its process at once with the status of a
killed one (137, as after the OOM killer; a container's PID 1 cannot SIGKILL itself), so only the state
machine's fallback task can record the failure, and the flow goes on."""

import os

from branchline import FlowSpec, catch, step


class KilledCatchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.dies)

    @catch(var="failure")
    @step
    def dies(self):
        self.partial = "never stored"
        os._exit(137)
        self.next(self.end)

    @step
    def end(self):
        self.caught = None if self.failure is None else self.failure.type


if __name__ == "__main__":
    KilledCatchFlow()
