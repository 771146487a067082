"""@resources and @environment: a large step, a GPU step and a step with its own variables."""

from branchline import FlowSpec, environment, resources, step


class ResourcesFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.big)

    @resources(cpu=4, memory=16384)
    @step
    def big(self):
        self.size = "big"
        self.next(self.gpu)

    @resources(cpu=8, memory=61440, gpu=1)
    @step
    def gpu(self):
        self.device = "gpu"
        self.next(self.configured)

    @environment(vars={"MODEL_KIND": "tree"})
    @step
    def configured(self):
        import os

        self.kind = os.environ.get("MODEL_KIND")
        self.next(self.end)

    @step
    def end(self):
        self.result = (self.size, self.device, self.kind)


if __name__ == "__main__":
    ResourcesFlow()
