"""A static split into two branches (one of two steps), joined by name."""

from branchline import FlowSpec, step


class SplitJoinFlow(FlowSpec):
    @step
    def start(self):
        self.base = 10
        self.next(self.left, self.right)

    @step
    def left(self):
        self.value = self.base + 1
        self.next(self.join)

    @step
    def right(self):
        self.value = self.base + 2
        self.next(self.right_more)

    @step
    def right_more(self):
        self.value *= 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = inputs.left.value + inputs.right_more.value  # 11 + 24
        self.next(self.end)

    @step
    def end(self):
        self.result = self.total  # 35


if __name__ == "__main__":
    SplitJoinFlow()
