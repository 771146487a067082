"""What a graph mistake looks like to the user: file, line, step and one sentence saying what to fix."""

from __future__ import annotations

from dataclasses import dataclass

from branchline.errors import BranchlineError


@dataclass(frozen=True)
class GraphProblem:
    """One mistake; `rule` names the validation rule that found it (empty for reading errors)."""

    file: str
    line: int
    step: str | None
    message: str
    rule: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: step '{self.step}': {self.message}" if self.step else f"{where}: {self.message}"


class FlowGraphError(BranchlineError):
    """One or more mistakes in a flow's graph, each with file, line and step."""

    def __init__(self, problems: list[GraphProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.step or ""))
        lines = [str(p) for p in self.problems]
        head = "the flow graph is invalid:" if len(lines) > 1 else "the flow graph is invalid"
        super().__init__(f"{head}\n  " + "\n  ".join(lines) if len(lines) > 1 else f"{head}: {lines[0]}")
