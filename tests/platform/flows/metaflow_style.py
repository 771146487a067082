"""A flow written for Metaflow; the test changes only the import line and runs it with branchline."""

from metaflow import FlowSpec, Parameter, current, retry, step


class MetaflowStyleFlow(FlowSpec):
    """Trains nothing, but uses the authoring subset the way Metaflow users do."""

    lr = Parameter("lr", help="learning rate", default=0.01)
    epochs = Parameter("epochs", help="epochs", default=2, type=int)

    @step
    def start(self):
        self.grid = [0.1, 0.2, 0.3]
        print("run", current.run_id)
        self.next(self.fit, foreach="grid")

    @retry(times=1)
    @step
    def fit(self):
        self.score = self.input * self.epochs
        self.next(self.pick)

    @step
    def pick(self, inputs):
        self.best = max(inp.score for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("best", self.best, "lr", self.lr)


if __name__ == "__main__":
    MetaflowStyleFlow()
