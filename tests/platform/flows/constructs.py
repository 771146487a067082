"""Every authoring construct in one flow: params, linear, foreach, nested foreach, split/join, inputs.<step>."""

from branchline import FlowSpec, IncludeFile, Parameter, current, step


class ConstructsFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="a float")
    count = Parameter("count", default=3)
    label = Parameter("label", default="x")
    notes = IncludeFile("notes", default=None)

    @step
    def start(self):
        self.seen_run = current.run_id
        self.seen_flow = current.flow_name
        self.rows = list(range(self.count))
        self.next(self.outer, foreach="rows")

    @step
    def outer(self):
        self.row = self.input
        self.cols = ["a", "b"]
        self.next(self.inner, foreach="cols")

    @step
    def inner(self):
        self.cell = f"{self.row}{self.input}"
        self.stack = [(i, n) for i, n, _ in self.foreach_stack()]
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.cells = sorted(i.cell for i in inputs)
        self.merge_artifacts(inputs, exclude=["cell", "stack"])
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.grid = [c for i in inputs for c in i.cells]
        self.merge_artifacts(inputs, include=["seen_run", "seen_flow"])
        self.next(self.branch_a, self.branch_b)

    @step
    def branch_a(self):
        self.value = "from a"
        self.shared = 1
        self.next(self.join_branches)

    @step
    def branch_b(self):
        self.value = "from b"
        self.shared = 1
        self.next(self.join_branches)

    @step
    def join_branches(self, inputs):
        self.values = (inputs.branch_a.value, inputs.branch_b.value)
        self.merge_artifacts(inputs, exclude=["value"])
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"alpha": self.alpha, "label": self.label, "cells": len(self.grid), "notes": self.notes}
        print("summary", self.summary)


if __name__ == "__main__":
    ConstructsFlow()
