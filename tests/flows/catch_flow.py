"""@catch: `fails` raises on every attempt; the flow goes on with the exception in `self.failure`."""

from branchline import FlowSpec, catch, retry, step


class CatchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fails)

    @catch(var="failure")
    @retry(times=1, minutes_between_retries=0)
    @step
    def fails(self):
        self.partial = "set before the failure"
        if self.partial:
            raise ValueError("always fails")
        self.next(self.end)

    @step
    def end(self):
        self.caught = self.failure is not None


if __name__ == "__main__":
    CatchFlow()
