"""@timeout: a quick step with a generous limit, and one under Batch's 60 s minimum."""

from branchline import FlowSpec, step, timeout


class TimeoutFlow(FlowSpec):
    @timeout(minutes=5)
    @step
    def start(self):
        self.x = 1
        self.next(self.short)

    @timeout(seconds=10)
    @step
    def short(self):
        self.x += 1
        self.next(self.end)

    @step
    def end(self):
        self.result = self.x


if __name__ == "__main__":
    TimeoutFlow()
