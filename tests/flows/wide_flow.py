"""A wide static split: 12 branches of two steps each, then one join."""

from branchline import FlowSpec, step


class WideFlow(FlowSpec):
    @step
    def start(self):
        self.seed = 1
        self.next(
            self.b00,
            self.b01,
            self.b02,
            self.b03,
            self.b04,
            self.b05,
            self.b06,
            self.b07,
            self.b08,
            self.b09,
            self.b10,
            self.b11,
        )

    @step
    def b00(self):
        self.value = self.seed + 0
        self.next(self.b00_post)

    @step
    def b00_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b01(self):
        self.value = self.seed + 1
        self.next(self.b01_post)

    @step
    def b01_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b02(self):
        self.value = self.seed + 2
        self.next(self.b02_post)

    @step
    def b02_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b03(self):
        self.value = self.seed + 3
        self.next(self.b03_post)

    @step
    def b03_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b04(self):
        self.value = self.seed + 4
        self.next(self.b04_post)

    @step
    def b04_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b05(self):
        self.value = self.seed + 5
        self.next(self.b05_post)

    @step
    def b05_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b06(self):
        self.value = self.seed + 6
        self.next(self.b06_post)

    @step
    def b06_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b07(self):
        self.value = self.seed + 7
        self.next(self.b07_post)

    @step
    def b07_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b08(self):
        self.value = self.seed + 8
        self.next(self.b08_post)

    @step
    def b08_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b09(self):
        self.value = self.seed + 9
        self.next(self.b09_post)

    @step
    def b09_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b10(self):
        self.value = self.seed + 10
        self.next(self.b10_post)

    @step
    def b10_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def b11(self):
        self.value = self.seed + 11
        self.next(self.b11_post)

    @step
    def b11_post(self):
        self.value *= 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.value for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.result = self.total


if __name__ == "__main__":
    WideFlow()
