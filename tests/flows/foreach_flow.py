"""A foreach over three items, each processed by two steps, then joined."""

from branchline import FlowSpec, step


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input * self.input
        self.next(self.shift)

    @step
    def shift(self):
        self.value += 1
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(inp.value for inp in inputs)  # [2, 5, 10]
        self.next(self.end)

    @step
    def end(self):
        self.result = sum(self.values)  # 17


if __name__ == "__main__":
    ForeachFlow()
