"""Which splits are open around each step, and which join closes which split. Pure; judges nothing.

Walking the steps in topological order, each step inherits the stack of open splits of its parents
(a split or foreach parent pushes itself); a join closes the split on top when all its parents agree
on the stack. The rules read the result to name what is wrong; `build_graph` records it in the graph
(`split_parents`, `matching_join`), which the runtime and the compilers follow.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

from branchline.graph.model import topological_order

Stack = tuple[str, ...]


class Splits(NamedTuple):
    open_splits: dict[str, Stack]
    """step → the splits and foreaches open around it, outermost first"""
    arrivals: dict[str, tuple[Stack, ...]]
    """step → the stack each of its parents hands it (in the order of its parents)"""
    joins: dict[str, tuple[str, ...]]
    """split → the joins that close it, in topological order (one in a valid graph)"""

    def matching_join(self, split: str) -> str | None:
        closing = self.joins.get(split, ())
        return closing[-1] if closing else None


def closed_split(arrivals: Sequence[Stack]) -> str | None:
    """The split a join closes: the one on top of its parents' stacks, when they all agree."""
    if not arrivals or not all(arrivals) or len(set(arrivals)) != 1:
        return None
    return arrivals[0][-1]


def analyse_splits(
    in_funcs: Mapping[str, Sequence[str]], fans: Collection[str], takes_inputs: Collection[str]
) -> Splits:
    """Open splits of every step of `in_funcs` (step → parents, in source order); `fans` are the split and
    foreach steps, `takes_inputs` the steps written as joins. The graph must be acyclic."""
    stacks: dict[str, Stack] = {}
    arrivals: dict[str, tuple[Stack, ...]] = {}
    joins: dict[str, list[str]] = {}
    for name in topological_order(list(in_funcs), in_funcs):
        after = tuple((*stacks.get(p, ()), p) if p in fans else stacks.get(p, ()) for p in in_funcs[name])
        arrivals[name] = after
        if name == "start":
            stacks[name] = ()
        elif name in takes_inputs:
            split = closed_split(after)
            if split is not None:
                joins.setdefault(split, []).append(name)
            stacks[name] = after[0][:-1] if split is not None else ()
        else:
            stacks[name] = after[0] if after else ()
    return Splits(stacks, arrivals, {s: tuple(j) for s, j in joins.items()})
