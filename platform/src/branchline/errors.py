"""User-facing errors: one clear message, no traceback, a non-zero exit code.

Every mistake a user can make (a broken flow graph, a missing config key, an unreachable
server, ...) raises a subclass of :class:`BranchlineError`; the CLI prints its message and exits.
"""

from __future__ import annotations


class BranchlineError(Exception):
    """An error caused by user input or environment, reported without a traceback."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(BranchlineError):
    """A missing or invalid `[tool.branchline]` setting."""


class FlowError(BranchlineError):
    """A flow that cannot be loaded or run (bad file, bad parameter value, ...)."""


class ArtifactError(BranchlineError):
    """An artifact that cannot be read, or conflicting artifacts in a join."""


class RunFailed(BranchlineError):
    """A flow run ended with a failed task."""


class ServiceUnreachable(BranchlineError):
    """A remote service (MLflow, AWS, a registry) did not answer."""
