"""What data scientists write: `FlowSpec`, `step`, `Parameter`, the decorators, `current` (Metaflow's subset).

A flow instance is a task's view of its run (artifacts through `datastore.view`). Nothing here runs a flow,
except `FlowSpec()` under `__main__`, which starts the flow's command line (the one upward import, as Metaflow's).
"""
