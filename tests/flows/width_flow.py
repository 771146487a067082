"""A foreach whose width is a parameter: each item is a fixed-size string, each child carries a big artifact."""

from branchline import FlowSpec, Parameter, step


class WidthFlow(FlowSpec):
    width = Parameter("width", default=10)

    @step
    def start(self):
        self.items = [f"item-{i:06d}" for i in range(self.width)]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.value = len(self.input)
        self.blob = b"x" * 50_000  # what a join must not read unless it asks for it
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.value for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.result = self.total


if __name__ == "__main__":
    WidthFlow()
