"""A foreach whose item `fail_item` fails in a first run and succeeds once resumed (`current.origin_run_id`).

The failing item fails after `fail_after` seconds, so that the other items have finished (and are reusable).
"""

import time

from branchline import FlowSpec, Parameter, current, step


class ResumeForeachFlow(FlowSpec):
    fail_item = Parameter("fail_item", default=-1)
    fail_after = Parameter("fail_after", default=0.0)

    @step
    def start(self):
        self.items = [f"v{i}" for i in range(3)]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.index == self.fail_item and current.origin_run_id is None:
            time.sleep(self.fail_after)
            raise RuntimeError(f"item {self.index} fails in the first run")
        self.out = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [inp.out for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.result = ",".join(self.outs)


if __name__ == "__main__":
    ResumeForeachFlow()
