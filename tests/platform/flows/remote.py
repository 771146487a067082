"""A small fan-out flow the container entrypoint test drives task by task."""

from branchline import FlowSpec, Parameter, current, step


class RemoteFlow(FlowSpec):
    factor = Parameter("factor", default=2)
    explode = Parameter("explode", default=False)

    @step
    def start(self):
        self.items = ["a", "bb", "ccc"]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.explode and self.index == 1:
            raise ZeroDivisionError("boom in work")
        self.size = len(self.input) * self.factor
        self.where = current.task_id
        self.next(self.join)

    @step
    def join(self, inputs):
        self.sizes = [i.size for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("sizes", self.sizes)


if __name__ == "__main__":
    RemoteFlow()
