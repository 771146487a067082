"""A failed step's multi-line message (a data check's failed expectations, a hint) is printed once, not twice."""

from __future__ import annotations

from .conftest import Project

FLOW = """
from branchline import FlowSpec, step


class Fails(FlowSpec):
    @step
    def start(self):
        if self.__class__:  # always: the graph still needs its self.next below
            # built, so that the traceback's source line does not repeat the message's lines
            lines = ["bad data", "  - expect_row_count: observed " + str(6), "  hint: fix the " + "data"]
            raise ValueError("\\n".join(lines))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    Fails()
"""


def test_a_failed_steps_message_is_printed_once(project: Project) -> None:
    (project.root / "flows" / "fails.py").write_text(FLOW)
    proc = project.run("fails.py", "run", check=False)
    shown = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "failed start/0: ValueError: bad data" in shown or "failed start/0: bad data" in shown, shown
    assert shown.count("expect_row_count: observed 6") == 1, shown
    assert shown.count("hint: fix the data") == 1, shown
