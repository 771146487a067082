"""Property: any valid flow (chains with nested splits and foreach) compiles to statelint-clean ASL.

Flows are generated as source code and read by the real parser, so the compiler sees exactly the
graphs users can write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from branchline.aws.compile import DEFINITION_MAX_BYTES, definition_json
from tests.aws_compile.support import compile_graph, graph_from_source, lint, tasks, walk


@dataclass(frozen=True)
class Plain:
    decorator: str = ""


@dataclass(frozen=True)
class Split:
    branches: tuple[tuple, ...]


@dataclass(frozen=True)
class Foreach:
    body: tuple


Segment = Union[Plain, Split, Foreach]  # noqa: UP007

DECORATORS = ["", "", "@retry(times=2)", "@catch(var='err')", "@timeout(seconds=30)", "@resources(cpu=2, memory=8192)"]


def blocks(depth: int) -> st.SearchStrategy[tuple]:
    plain = st.builds(Plain, st.sampled_from(DECORATORS))
    if depth == 0:
        return st.lists(plain, min_size=1, max_size=3).map(tuple)
    inner = blocks(depth - 1)
    segment = st.one_of(
        plain,
        st.builds(Split, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Foreach, inner),
    )
    return st.lists(segment, min_size=1, max_size=3).map(tuple)


@dataclass
class _Writer:
    defs: list[str] = field(default_factory=list)
    count: int = 0

    def name(self) -> str:
        self.count += 1
        return f"s{self.count}"

    def step(self, name: str, body: str, *, inputs: bool = False, decorator: str = "") -> None:
        deco = f"    {decorator}\n" if decorator else ""
        args = "self, inputs" if inputs else "self"
        self.defs.append(f"{deco}    @step\n    def {name}({args}):\n        {body}\n")

    def block(self, block: tuple, after: str) -> str:
        """Write `block`, leading to step `after`; return its first step."""
        nxt = after
        for seg in reversed(block):
            if isinstance(seg, Plain):
                name = self.name()
                self.step(name, f"self.x = 1\n        self.next(self.{nxt})", decorator=seg.decorator)
            elif isinstance(seg, Split):
                join = self.name()
                self.step(join, f"self.next(self.{nxt})", inputs=True)
                firsts = [self.block(b, join) for b in seg.branches]
                name = self.name()
                self.step(name, f"self.next({', '.join(f'self.{f}' for f in firsts)})")
            else:
                join = self.name()
                self.step(join, f"self.next(self.{nxt})", inputs=True)
                first = self.block(seg.body, join)
                name = self.name()
                self.step(name, f"self.items = [1, 2]\n        self.next(self.{first}, foreach='items')")
            nxt = name
        return nxt


def render(block: tuple) -> str:
    w = _Writer()
    first = w.block(block, "end")
    w.step("start", f"self.next(self.{first})")
    w.step("end", "pass")
    head = "from branchline import FlowSpec, catch, resources, retry, step, timeout\n\nclass Generated(FlowSpec):\n"
    return head + "\n".join(w.defs)


def _count(block: tuple, kind: type) -> int:
    total = 0
    for seg in block:
        total += isinstance(seg, kind)
        if isinstance(seg, Split):
            total += sum(_count(b, kind) for b in seg.branches)
        elif isinstance(seg, Foreach):
            total += _count(seg.body, kind)
    return total


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks(3))
def test_random_flows_compile_to_clean_asl(block: tuple) -> None:
    graph = graph_from_source(render(block))
    compiled = compile_graph(graph)
    assert lint(compiled.definition) == []
    assert len(definition_json(compiled.definition).encode()) < DEFINITION_MAX_BYTES
    main_tasks = sorted(n for n, _ in tasks(compiled.definition) if "." not in n)
    assert main_tasks == sorted(graph.steps)
    kinds = [s["Type"] for _, _, s in walk(compiled.definition["States"])]
    assert kinds.count("Map") == _count(block, Foreach)
    assert kinds.count("Parallel") == _count(block, Split)
