"""Records when each foreach task ran, so a test can see whether tasks overlapped."""

import time

from branchline import FlowSpec, Parameter, step


class ParallelFlow(FlowSpec):
    width = Parameter("width", default=4)
    pause = Parameter("pause", default=0.4)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.began = time.time()
        time.sleep(self.pause)
        self.ended = time.time()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.spans = sorted((i.began, i.ended) for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelFlow()
