"""Running flows: the task entry point (`entrypoint.py`, one task anywhere) and the local scheduler around it.

`loader.py` imports a flow file and reads its live graph; `launcher.py` starts a local run (`local.py` schedules
its tasks in forked workers); `entrypoint.py` runs one task, in a worker or a step container; `flow_cli.py` is
`python flow.py run|resume|show`. Builds on authoring/, graph/, datastore/ and tracking/'s task-side hooks.
"""
