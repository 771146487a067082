"""`branchline ci ...`: the logic of every GitHub Actions job, as commands driven by the runner's environment.

The workflows stay thin (triggers, permissions, auth, concurrency); what a job *does* lives here, where
it is tested with the `GITHUB_*` variables a runner sets. One module, one job:

* `context`  — the `GITHUB_*` environment and event payload, read once into plain data;
* `policy`   — which event may deploy, release or tear down which namespace (pure);
* `github`   — the few GitHub REST calls we make (issue comments), over plain HTTP;
* `report`   — the PR comment / step summary as Markdown (pure);
* `actions`  — `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY`;
* `inputs`   — the step image and the code package a deploy needs;
* `smoke`    — start a run of a deployed flow and wait for it, bounded;
* `verdict`  — the gate's dry-run verdict as the PR comment shows it;
* `prune`    — branch namespaces whose branch is gone;
* `jobs`     — one function per command, wiring the above.
"""
