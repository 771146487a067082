"""Progress of a local run: a live Rich table on a terminal, plain lines elsewhere (CI, logs)."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from branchline.authoring.decorators import retry_wait_text


class Reporter:
    """Counts per step; prints one line per event, or a live table when attached to a terminal."""

    def __init__(self, steps: list[str], *, console: Console | None = None, quiet: bool = False) -> None:
        self.console = console or Console(highlight=False)
        self.quiet = quiet
        self.steps = steps
        self.n_expected: dict[str, int] = defaultdict(int)
        self.n_done: dict[str, int] = defaultdict(int)
        self.n_running: dict[str, int] = defaultdict(int)
        self.n_failed: dict[str, int] = defaultdict(int)
        self.remote: dict[tuple[str, str], str] = {}  # (step, task) -> Batch state, while it is not over
        self.live: Live | None = None
        self._last = 0.0
        if self.console.is_terminal and not quiet:
            self.live = Live(self._table(), console=self.console, auto_refresh=False, transient=True)
            self.live.start()

    def _print(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, soft_wrap=True)

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False)
        columns = ["step", "done", "running", "failed"] + (["batch"] if self.remote else [])
        for column in columns:
            table.add_column(column)
        for step in self.steps:
            if self.n_expected[step] or self.n_done[step]:
                states = Counter(state for (s, _), state in self.remote.items() if s == step)
                table.add_row(
                    step,
                    f"{self.n_done[step]}/{self.n_expected[step]}",
                    str(self.n_running[step] or ""),
                    f"[red]{self.n_failed[step]}[/]" if self.n_failed[step] else "",
                    *([" ".join(f"{n} {state}" for state, n in sorted(states.items()))] if self.remote else []),
                )
        return table

    def refresh(self, force: bool = False) -> None:
        if self.live is None:
            return
        now = time.monotonic()
        if force or now - self._last > 0.1:
            self._last = now
            self.live.update(self._table(), refresh=True)

    def expect(self, step: str, count: int) -> None:
        self.n_expected[step] += count

    def remote_state(self, step: str, task_id: str, state: str, job_id: str) -> None:
        """A Batch job's state (SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING): a column, or one line each."""
        self.remote[(step, task_id)] = state
        if self.live is None:
            what = f"submitted as job {job_id}" if state == "SUBMITTED" else state
            self._print(f"[blue]batch[/] {step}/{task_id} {what}")

    def warn(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(f"[yellow]warning[/] {escape(text)}", soft_wrap=True)
        else:
            self._print(f"[yellow]warning[/] {escape(text)}")

    def started(self, step: str, task_id: str, attempt: int) -> None:
        self.n_running[step] += 1

    def finished(self, step: str, task_id: str, seconds: float, *, caught: bool = False) -> None:
        self.remote.pop((step, task_id), None)
        self.n_running[step] -= 1
        self.n_done[step] += 1
        mark = "[yellow]caught[/]" if caught else "[green]ok[/]"
        if self.live is None:
            self._print(f"{mark} {step}/{task_id} ({seconds:.2f}s)")

    def cloned(self, step: str, task_id: str) -> None:
        self.n_done[step] += 1
        self._print(f"[cyan]cloned[/] {step}/{task_id} (resume: reused from the origin run)")

    def retrying(
        self, step: str, task_id: str, attempt: int, attempts: int, reason: str, *, aws_wait_seconds: float = 0
    ) -> None:
        """A retry that starts now; when `@retry` asks for a wait, say that it applies on AWS Batch only."""
        self.remote.pop((step, task_id), None)
        self.n_running[step] -= 1
        wait = (f" (no wait here; a deployed flow waits {retry_wait_text(aws_wait_seconds)}: "
                "minutes_between_retries)") if aws_wait_seconds > 0 else ""
        self._print(f"[yellow]retry[/] {step}/{task_id}: attempt {attempt + 1}/{attempts} now{wait} after: "
                    f"{escape(reason)}")

    def failed(self, step: str, task_id: str, reason: str) -> None:
        self.remote.pop((step, task_id), None)
        self.n_running[step] -= 1
        self.n_failed[step] += 1
        self._print(f"[red]failed[/] {step}/{task_id}: {escape(reason)}")

    def output(self, step: str, task_id: str, text: str) -> None:
        lines = text.rstrip("\n").splitlines()
        shown = lines[-50:]
        prefix = f"[dim]\\[{step}/{task_id}][/] "
        if len(lines) > len(shown):
            self._print(prefix + f"... {len(lines) - len(shown)} earlier lines in the task log")
        for line in shown:
            self._print(prefix + escape(line))

    def close(self) -> None:
        if self.live is not None:
            self.live.update(self._table(), refresh=True)
            self.live.stop()
            self.console.print(self._table())
            self.live = None

    def summary(self, result: Any) -> None:
        self.close()
