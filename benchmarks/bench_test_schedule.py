"""How long the suite takes on 2 xdist workers under each ordering, from measured per-test durations.

The wall time of a real run depends on the machine's load, so two orderings measured an hour apart on a shared
machine are not comparable. This replays one run's measured durations through xdist's own ``LoadScheduling``
(the scheduler ``-n 2`` uses) with each ordering and chunk size, and reports each makespan: when the last worker
is done. Setup/teardown of fixtures are counted where the run measured them (JUnit's times include them).

    make test PYTEST_ARGS="--junitxml=/tmp/junit.xml"
    .venv/bin/python benchmarks/bench_test_schedule.py /tmp/junit.xml

Orderings: the collection order (files alphabetically) and the suite's own (tests/testbed/ordering.py:
heaviest files first), each with xdist's default chunks and with one test at a time (``--maxschedchunk=1``,
what tests/conftest.py sets).
"""

from __future__ import annotations

import argparse
import heapq
import sys
import xml.etree.ElementTree as ET
from collections.abc import Generator
from pathlib import Path
from types import SimpleNamespace

import pytest
from xdist.scheduler import LoadScheduling

REPO = Path(__file__).resolve().parents[1]


def junit_durations(path: Path) -> dict[str, float]:
    """Seconds per test id (``tests/x/test_y.py::test_z[param]``) from a JUnit XML report."""
    durations = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        durations[f"{module}::{case.get('name')}"] = float(case.get("time", 0))
    return durations


class _Orders:
    """A pytest plugin that records the collected test ids before and after the suite's reordering."""

    def __init__(self) -> None:
        self.collected: list[str] = []
        self.ordered: list[str] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> Generator[None, None, None]:
        self.collected = [item.nodeid for item in items]
        yield
        self.ordered = [item.nodeid for item in items]


def collection_orders() -> tuple[list[str], list[str]]:
    """(collection order, the suite's order) of this checkout's tests."""
    orders = _Orders()
    code = pytest.main(["--collect-only", "-q", "-p", "no:xdist", str(REPO / "tests")], plugins=[orders])
    if code != 0:
        sys.exit(f"collection failed (exit {code})")
    return orders.collected, orders.ordered


class _Worker:
    """What xdist's scheduler sees of a worker: tests sent to it run in order, one at a time."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.queue: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.queue.extend(indices)

    def send_runtest_all(self) -> None:  # pragma: no cover - LoadScheduling never calls it for 2 workers
        raise NotImplementedError

    def shutdown(self) -> None:
        self.shutting_down = True


def makespan(order: list[str], seconds: dict[str, float], chunk: int | None, workers: int = 2) -> float:
    """Simulated wall time of running ``order`` on ``workers`` workers with xdist's load scheduler."""
    config = SimpleNamespace(getvalue=lambda name: [f"{workers}*popen"], getoption=lambda name: chunk)
    quiet = SimpleNamespace(loadsched=lambda *args: None)
    scheduler = LoadScheduling(config, log=quiet)  # type: ignore[arg-type]
    nodes = [_Worker(f"gw{i}") for i in range(workers)]
    for node in nodes:
        scheduler.add_node(node)  # type: ignore[arg-type]
    for node in nodes:
        scheduler.add_node_collection(node, order)  # type: ignore[arg-type]
    scheduler.schedule()
    clock, busy_until, running = 0.0, {node: 0.0 for node in nodes}, []  # running: heap of (end, seq, node, index)
    seq = 0

    def start_next(node: _Worker, now: float) -> None:
        nonlocal seq
        if node.queue and busy_until[node] <= now:
            index = node.queue.pop(0)
            busy_until[node] = now + seconds.get(order[index], 0.0)
            heapq.heappush(running, (busy_until[node], seq, node, index))
            seq += 1

    for node in nodes:
        start_next(node, 0.0)
    while running:
        clock, _, node, index = heapq.heappop(running)
        scheduler.mark_test_complete(node, index, duration=seconds.get(order[index], 0.0))  # type: ignore[arg-type]
        for other in nodes:
            start_next(other, clock)
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("junit", type=Path, help="JUnit XML of a run of the whole suite (pytest --junitxml)")
    args = parser.parse_args()
    seconds = junit_durations(args.junit)
    collected, ordered = collection_orders()
    missing = [test for test in ordered if test not in seconds]
    total = sum(seconds.get(test, 0.0) for test in ordered)
    print(f"\n{len(ordered)} tests, {len(missing)} without a measured duration (counted as 0 s)")
    print(f"sum of test durations: {total:.0f} s; perfect split on 2 workers: {total / 2:.0f} s\n")
    print("| ordering | chunks | makespan (s) | vs perfect split |")
    print("|---|---|---:|---:|")
    for name, order in (("collection order", collected), ("heaviest files first", ordered)):
        for label, chunk in (("xdist default", None), ("one at a time", 1)):
            span = makespan(order, seconds, chunk)
            print(f"| {name} | {label} | {span:.0f} | {span / (total / 2):.2f}x |")


if __name__ == "__main__":
    main()
