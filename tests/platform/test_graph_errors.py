"""Every graph mistake gets one message naming file, line and step, before anything runs."""

from __future__ import annotations

import textwrap

import pytest

from branchline.graph.parse import FlowGraphError, build_graph
from branchline.graph.rules import RULES

HEADER = "from branchline import FlowSpec, step\n\n\nclass F(FlowSpec):\n"  # class on line 4


def flow(body: str) -> str:
    return HEADER + textwrap.indent(textwrap.dedent(body), "    ")


def problems(source: str) -> list[tuple[int, str | None, str]]:
    with pytest.raises(FlowGraphError) as info:
        build_graph(source, "flows/f.py", "F")
    return [(p.line, p.step, p.message) for p in info.value.problems]


# bodies that break two rules at once (a join of the wrong split also leaves a split without a join)
NESTED_SPLIT_JOINED_WITH_ITS_PARENT = """
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.c, self.d)

        @step
        def b(self):
            self.next(self.join)

        @step
        def c(self):
            self.next(self.join)

        @step
        def d(self):
            self.next(self.end)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self, inputs):
            pass
        """
SPLIT_IN_FOREACH_JOINED_TWICE = """
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.a, foreach="items")

        @step
        def a(self):
            self.next(self.b, self.c)

        @step
        def b(self):
            self.next(self.m)

        @step
        def c(self):
            self.next(self.n)

        @step
        def m(self, inputs):
            self.next(self.join)

        @step
        def n(self, inputs):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
        """


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
    "end calls next": (
        """
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            self.next(self.start)
        """,
        (12, "end", "the end step must not call self.next()"),
    ),
    "next of something that is not a step": (
        """
        @step
        def start(self):
            self.next(self.end, "end")

        @step
        def end(self):
            pass
        """,
        (8, "start", "self.next() takes steps written as self.<step>"),
    ),
    "next with an unsupported argument": (
        """
        @step
        def start(self):
            self.next(self.end, num_parallel=4)

        @step
        def end(self):
            pass
        """,
        (8, "start", "self.next() does not support the argument 'num_parallel'"),
    ),
    "next names a step twice": (
        """
        @step
        def start(self):
            self.next(self.a, self.a)

        @step
        def a(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (8, "start", "self.next() names the same step twice"),
    ),
    "next without a step": (
        """
        @step
        def start(self):
            self.next()

        @step
        def end(self):
            pass
        """,
        (8, "start", "self.next() needs at least one step"),
    ),
    "join of different splits": (
        NESTED_SPLIT_JOINED_WITH_ITS_PARENT,
        (27, "join", "joins branches of different splits (b, c)"),
    ),
    "split that nothing joins": (
        NESTED_SPLIT_JOINED_WITH_ITS_PARENT,
        (11, "a", "split has no join: add a step with `inputs` where its branches meet"),
    ),
    "split joined twice": (
        SPLIT_IN_FOREACH_JOINED_TWICE,
        (28, "n", "split 'a' is joined twice"),
    ),
    "foreach join reached from two steps": (
        SPLIT_IN_FOREACH_JOINED_TWICE,
        (32, "join", "joins the foreach of 'start' but is reached from 2 steps"),
    ),
    "foreach straight into its join": (
        """
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.join, foreach="items")

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (12, "join", "a foreach ('start') must lead to a step that processes one item, not directly to a join"),
    ),
    "next goes back to start": (
        """
        @step
        def start(self):
            self.next(self.a)

        @step
        def a(self):
            self.next(self.start)

        @step
        def end(self):
            pass
        """,
        (12, "a", "self.next() goes back to 'start': flows cannot have cycles"),
    ),
    "catch on a foreach step": (
        """
        @catch(var="failed")
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.a, foreach="items")

        @step
        def a(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
        """,
        (
            8,
            "start",
            "@catch cannot decorate a foreach step (as in Metaflow): a caught failure would leave the foreach "
            "without items; put the failing work in the step the foreach runs, and @catch that one",
        ),
    ),
}

# the rule that reports each case's expected problem: every registered rule has a case
RULE_OF_CASE = {
    "unknown step in next": "next_names_known_steps",
    "unreachable step": "reachable_from_start",
    "missing start": "has_start_and_end",
    "missing end": "has_start_and_end",
    "split without a join": "merge_takes_inputs",
    "join with wrong arity": "split_join_receives_every_branch",
    "join that joins nothing": "join_joins_something",
    "cycle": "no_cycles",
    "next called twice": "next_called_once",
    "next never called": "step_calls_next",
    "foreach with two targets": "foreach_names_one_step",
    "end calls next": "end_does_not_call_next",
    "next of something that is not a step": "next_takes_steps",
    "next with an unsupported argument": "next_takes_only_foreach",
    "next names a step twice": "next_names_each_step_once",
    "next without a step": "next_names_a_step",
    "join of different splits": "join_closes_one_split",
    "split that nothing joins": "split_has_a_join",
    "split joined twice": "split_joined_once",
    "foreach join reached from two steps": "foreach_join_has_one_parent",
    "foreach straight into its join": "foreach_has_a_body",
    "next goes back to start": "no_cycles",
    "catch on a foreach step": "catch_not_on_a_foreach",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_graph_mistake_is_reported_with_line_and_step(case: str) -> None:
    body, expected = CASES[case]
    assert expected in problems(flow(body))


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_is_found_by_its_rule(case: str) -> None:
    body, (line, step, message) = CASES[case]
    with pytest.raises(FlowGraphError) as info:
        build_graph(flow(body), "flows/f.py", "F")
    found = {(p.line, p.step, p.message): p.rule for p in info.value.problems}
    assert found[(line, step, message)] == RULE_OF_CASE[case]


def test_every_rule_has_a_case() -> None:
    assert set(RULE_OF_CASE) == set(CASES)
    assert sorted(set(RULE_OF_CASE.values())) == sorted(r.name for r in RULES)


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
