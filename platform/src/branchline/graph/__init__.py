"""The flow graph, read from a flow's source: pure (no flow is imported, nothing but the given text is read).

`source.py` reads the class into facts, `rules.py` judges them (one rule per mistake), `splits.py` finds which
join closes which split, `parse.build_graph` returns the `model.FlowGraph` everything else consumes. Imports only
`branchline.errors`; loading a live flow class is `runtime.loader`'s job.
"""
