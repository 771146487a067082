"""Errors raised while deriving namespaces and names."""

from __future__ import annotations

from branchline.errors import BranchlineError


class NamespaceError(BranchlineError):
    """A namespace, git ref or resource-name input that cannot be used."""


class CIEnvironmentError(NamespaceError):
    """A `GITHUB_*` variable that the CI event needs is missing or empty."""

    def __init__(self, variable: str, event: str | None = None) -> None:
        why = f" (needed for a {event!r} event)" if event else ""
        super().__init__(
            f"environment variable {variable} is not set{why}",
            hint="run this inside a GitHub Actions job, or set the GITHUB_* variables a runner would set",
        )
        self.variable = variable
