"""Parameters of every type, read in `start` and in a later step."""

from branchline import FlowSpec, Parameter, step


class ParametersFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="a float")
    count = Parameter("count", default=3, help="an int")
    label = Parameter("label", default="run", help="a string")
    verbose = Parameter("verbose", default=False, help="a bool")
    config = Parameter("config", default={"depth": 2}, type=dict, help="JSON")

    @step
    def start(self):
        self.scaled = self.alpha * self.count
        self.next(self.end)

    @step
    def end(self):
        self.summary = f"{self.label}:{self.scaled}:{self.config['depth']}:{self.verbose}"


if __name__ == "__main__":
    ParametersFlow()
