"""Where runs live: storage backends, the layout of keys, content-addressed artifacts, the run and task records.

`storage.py` (a directory or S3, given its client), `layout.py` (every key), `records.py` (`RunRecord`,
`TaskRecord`, `Status`, run and task ids), `artifacts.py` (`FlowDatastore`: one namespace), `view.py` (the lazy
artifact view tasks and the client read through). Imports only `branchline.errors`: no AWS configuration, no
flow, no graph.
"""
