"""What `@catch(var=...)` stores when a step fails: picklable, readable from any later step."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaughtException:
    type: str
    message: str
    traceback: str
    step: str
    attempts: int

    @property
    def exception(self) -> str:
        """The exception's message alone (Metaflow's `MetaflowExceptionWrapper.exception`)."""
        return self.message.removeprefix(f"{self.type}: ")

    @property
    def stacktrace(self) -> str:
        """Metaflow's name for the traceback."""
        return self.traceback

    def __str__(self) -> str:
        return f"{self.type}: {self.message} (step {self.step!r}, {self.attempts} attempt(s))"
