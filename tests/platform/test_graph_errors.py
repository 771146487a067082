"""Every graph mistake gets one message naming file, line and step, before anything runs."""

from __future__ import annotations

import textwrap

import pytest

from branchline.graph.parse import FlowGraphError, build_graph

HEADER = "from branchline import FlowSpec, step\n\n\nclass F(FlowSpec):\n"  # class on line 4


def flow(body: str) -> str:
    return HEADER + textwrap.indent(textwrap.dedent(body), "    ")


def problems(source: str) -> list[tuple[int, str | None, str]]:
    with pytest.raises(FlowGraphError) as info:
        build_graph(source, "flows/f.py", "F")
    return [(p.line, p.step, p.message) for p in info.value.problems]


CASES = {
    "unknown step in next": (
        """
        @step
        def start(self):
            self.next(self.trian)

        @step
        def train(self):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (8, "start", "self.next() names unknown step 'trian' (did you mean 'train'?)"),
    ),
    "unreachable step": (
        """
        @step
        def start(self):
            self.next(self.end)

        @step
        def orphan(self):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (11, "orphan", "is unreachable: no step leads to it from 'start'"),
    ),
    "missing start": (
        """
        @step
        def begin(self):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (4, None, "flow F has no 'start' step; add @step def start(self)"),
    ),
    "missing end": (
        """
        @step
        def start(self):
            self.next(self.finish)

        @step
        def finish(self):
            self.next(self.start)
        """,
        (4, None, "flow F has no 'end' step; add @step def end(self)"),
    ),
    "split without a join": (
        """
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.end)

        @step
        def b(self):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (19, "end", "is reached from a, b but does not take `inputs`; write def end(self, inputs) to join them"),
    ),
    "join with wrong arity": (
        """
        @step
        def start(self):
            self.next(self.a, self.b, self.c)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def c(self):
            self.next(self.end)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (
            23,
            "join",
            "receives 2 input(s) but split 'start' (line 7) has 3 branches; every branch must end in this join",
        ),
    ),
    "join that joins nothing": (
        """
        @step
        def start(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (11, "join", "takes `inputs` but joins nothing: no split or foreach leads to it"),
    ),
    "cycle": (
        """
        @step
        def start(self):
            self.next(self.a)

        @step
        def a(self):
            self.next(self.b)

        @step
        def b(self):
            self.next(self.a)

        @step
        def end(self):
            pass
        """,
        (16, "b", "self.next() goes back to 'a': flows cannot have cycles"),
    ),
    "next called twice": (
        """
        @step
        def start(self):
            if self.x:
                self.next(self.a)
            else:
                self.next(self.end)

        @step
        def a(self):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (
            11,
            "start",
            "calls self.next() 2 times (lines 9, 11); call it exactly once, as the last statement",
        ),
    ),
    "next never called": (
        """
        @step
        def start(self):
            self.x = 1

        @step
        def end(self):
            pass
        """,
        (7, "start", "never calls self.next(); every step but 'end' must name its next step"),
    ),
    "foreach with two targets": (
        """
        @step
        def start(self):
            self.items = [1]
            self.next(self.a, self.b, foreach="items")

        @step
        def a(self):
            self.next(self.end)

        @step
        def b(self):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (9, "start", "a foreach transition takes exactly one step"),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_graph_mistake_is_reported_with_line_and_step(case: str) -> None:
    body, expected = CASES[case]
    assert expected in problems(flow(body))


def test_message_names_the_file_line_and_step() -> None:
    body, _ = CASES["unknown step in next"]
    with pytest.raises(FlowGraphError) as info:
        build_graph(flow(body), "flows/f.py", "F")
    assert str(info.value) == (
        "the flow graph is invalid: flows/f.py:8: step 'start': "
        "self.next() names unknown step 'trian' (did you mean 'train'?)"
    )


def test_valid_graph_records_structure() -> None:
    graph = build_graph(
        flow(
            """
            @step
            def start(self):
                self.items = [1, 2]
                self.next(self.each, foreach="items")

            @step
            def each(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
            """
        ),
        "flows/f.py",
        "F",
    )
    assert graph["start"].type == "foreach" and graph["start"].foreach_var == "items"
    assert graph["start"].matching_join == "join"
    assert graph["each"].split_parents == ("start",)
    assert graph["join"].is_join and graph["join"].split_parents == ()
    assert graph.foreach_depth("each") == 1 and graph.foreach_depth("end") == 0
    assert graph.topological() == ["start", "each", "join", "end"]


def test_broken_flow_fails_on_the_command_line_without_traceback(project) -> None:
    body, _ = CASES["cycle"]
    source = flow(body) + "\n\nif __name__ == '__main__':\n    F()\n"
    (project.root / "flows" / "broken.py").write_text(source)
    proc = project.run("broken.py", "run", check=False)
    assert proc.returncode == 1
    assert "flows/broken.py:16: step 'b': self.next() goes back to 'a'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (project.root / ".branchline" / "datastore").exists()  # nothing ran, nothing written
