"""Time of each phase of the end-to-end path, on the local test bed (real engine, registry, moto).

Run:  .venv/bin/python benchmarks/bench_e2e.py [--full-dependencies] [--runs N]

Phases: render the template, publish the step image cold (build + push) and warm (the dependency tag is
already in the registry: no build), upload the code package, deploy a branch namespace, run the e2e flow
(start → foreach of 3 → join → validate → end: 7 Batch jobs, each a container) and tear the namespace down.
Prints a Markdown table and exits non-zero unless the warm publish is at least 10 times faster than the cold one.

`--full-dependencies` builds the image with the template's own requirements (MLflow, Great Expectations,
scikit-learn, pandas) instead of the trimmed set the e2e test uses: the figure behind that choice.
Test bed start-up (engine, registry, moto, base image import, wheel downloads) is not part of any phase.
Needs root and the test bed's Debian packages (scripts/testbed/install.sh), like the tests marked `docker`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.path import EndToEnd  # noqa: E402
from tests.testbed.bed import Testbed  # noqa: E402
from tests.testbed.runs import Run, reap_stale_runs  # noqa: E402
from tests.testbed.servers import TEST_CREDENTIALS  # noqa: E402

MIN_WARM_SPEEDUP = 10.0
PHASES = ("render", "image publish (cold)", "image publish (warm)", "code package", "deploy", "execution", "teardown")


def one_pass(bed: Testbed, work: Path, full_dependencies: bool) -> dict[str, float]:
    """Every phase once, in a fresh project and namespace; seconds per phase."""
    endpoint = bed.moto(docker=True)
    os.environ.update(TEST_CREDENTIALS, AWS_ENDPOINT_URL=endpoint, DOCKER_HOST=bed.docker_host)
    e2e = EndToEnd(work=work, endpoint=endpoint, registry=bed.registry(), base_image=bed.base_image(),
                   wheelhouse=bed.wheelhouse, full_dependencies=full_dependencies)  # fmt: skip
    e2e.render()
    e2e.prepare()
    cold = e2e.publish("image publish (cold)")
    warm = e2e.publish("image publish (warm)")
    if not cold.built or warm.built or warm.digest != cold.digest:
        raise SystemExit(f"unexpected publish results: cold={cold} warm={warm}")
    e2e.upload_code()
    e2e.deploy()
    execution = e2e.run({"count": 3})
    if execution.status != "SUCCEEDED":
        raise SystemExit(f"execution {execution.status}\n{e2e.diagnostics(execution.arn)}")
    e2e.teardown()
    if e2e.leftovers():
        raise SystemExit(f"teardown left: {e2e.leftovers()}")
    return e2e.timings


def table(passes: list[dict[str, float]]) -> str:
    rows = ["| phase | median (s) | min (s) | max (s) |", "| --- | ---: | ---: | ---: |"]
    for phase in PHASES:
        values = [p[phase] for p in passes]
        rows.append(f"| {phase} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-dependencies", action="store_true", help="the template's full requirements")
    parser.add_argument("--runs", type=int, default=1, help="passes (each a new project, cold image included)")
    args = parser.parse_args(argv)

    reap_stale_runs()
    run = Run.new()
    try:
        bed = Testbed(run)
        passes = []
        for index in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="bench-e2e-") as work:
                passes.append(one_pass(bed, Path(work), args.full_dependencies))
            print(f"pass {index + 1}/{args.runs}: " + ", ".join(f"{k}={v:.2f}" for k, v in passes[-1].items()),
                  file=sys.stderr)  # fmt: skip
        deps = "template requirements (MLflow, GX, scikit-learn, pandas)" if args.full_dependencies else "trimmed"
        print(f"End-to-end path, {args.runs} pass(es), {os.cpu_count()} cores, image dependencies: {deps}\n")
        print(table(passes))
        speedup = min(p["image publish (cold)"] / max(p["image publish (warm)"], 1e-6) for p in passes)
        print(f"\nwarm image publish is {speedup:.0f}x faster than cold (required: >= {MIN_WARM_SPEEDUP:.0f}x)")
        return 0 if speedup >= MIN_WARM_SPEEDUP else 1
    finally:
        run.shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
