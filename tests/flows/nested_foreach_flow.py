"""A foreach inside a foreach: 2 groups x 3 members, joined twice."""

from branchline import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.groups = ["a", "b"]
        self.next(self.group, foreach="groups")

    @step
    def group(self):
        self.group_name = self.input
        self.members = [1, 2, 3]
        self.next(self.member, foreach="members")

    @step
    def member(self):
        self.label = f"{self.group_name}{self.input}"
        self.next(self.join_members)

    @step
    def join_members(self, inputs):
        self.labels = sorted(inp.label for inp in inputs)
        self.next(self.join_groups)

    @step
    def join_groups(self, inputs):
        self.all_labels = sorted(label for inp in inputs for label in inp.labels)
        self.next(self.end)

    @step
    def end(self):
        self.result = len(self.all_labels)  # 6


if __name__ == "__main__":
    NestedForeachFlow()
