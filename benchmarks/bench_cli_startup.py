"""Start-up of the command line at another revision vs this checkout: `--help`, `run` of a 2-step flow, a task.

    python benchmarks/bench_cli_startup.py [--base main] [--repeat 9]

What a user and every task process pay before any work: `python -m branchline.cli.main --help`, `... run
flow.py` (tracking off) and `import branchline.runtime.entrypoint` (what a step container's task imports).
Like bench_ab_runtime.py, the base revision's `platform/src` is exported with `git archive` and put first on
PYTHONPATH, and the two alternate run by run so a busy machine slows both alike. Prints the median of each,
and how many modules of the package each command loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_ab_runtime import export
from bench_local_runtime import TWO_STEP, timed, write_flow

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "branchline.cli.main"]
SCENARIOS = [
    ("branchline --help", [*CLI, "--help"]),
    ("branchline run (2 steps)", [*CLI, "run", "two.py"]),
    ("task process import", [sys.executable, "-c", "import branchline.runtime.entrypoint"]),
]
COUNT = "import json, runpy, sys; sys.argv = {argv!r}\ntry:\n    runpy.run_module({module!r}, run_name='__main__')\n" \
        "except SystemExit:\n    pass\nprint(json.dumps(len([m for m in sys.modules if m.startswith('branchline')])))"


def own_modules(argv: list[str], cwd: Path, env: dict[str, str]) -> int:
    """How many `branchline` modules the command leaves imported."""
    if argv[1] == "-c":
        code = f"{argv[2]}\nimport sys; print(len([m for m in sys.modules if m.startswith('branchline')]))"
    else:
        code = COUNT.format(argv=["branchline", *argv[3:]], module=argv[2])
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return int(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="main")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    trees = {args.base: export(args.base, work / "base"), "checkout": REPO / "platform" / "src"}
    env = {**os.environ, "USER": os.environ.get("USER", "bench"), "BRANCHLINE_TRACKING": "0"}
    env.pop("BRANCHLINE_DATASTORE", None)
    project = work / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.branchline]\nproject = "bench"\n')
    write_flow(project, "two", TWO_STEP, "branchline")
    medians: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    for label, argv in SCENARIOS:
        samples: dict[str, list[float]] = {tree: [] for tree in trees}
        for i in range(args.repeat + 1):  # the first round warms file-system caches (and writes bytecode)
            for tree, src in trees.items():
                elapsed = timed(argv, project, {**env, "PYTHONPATH": str(src)})
                if i:
                    samples[tree].append(elapsed)
        for tree, src in trees.items():
            medians[(tree, label)] = statistics.median(samples[tree])
            counts[(tree, label)] = own_modules(argv, project, {**env, "PYTHONPATH": str(src)})
    shutil.rmtree(work, ignore_errors=True)
    base, head = trees
    print(f"median of {args.repeat} interleaved runs, {os.cpu_count()} cores, "
          f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}")
    header = f"modules {base} → checkout"
    print(f"| {'command':26} | {base + ' (s)':>10} | {'checkout (s)':>12} | {'change':>7} | {header:>24} |")
    print(f"|{'-' * 28}|{'-' * 11}:|{'-' * 13}:|{'-' * 8}:|{'-' * 26}:|")
    for label, _ in SCENARIOS:
        before, after = medians[(base, label)], medians[(head, label)]
        modules = f"{counts[(base, label)]} → {counts[(head, label)]}"
        print(f"| {label:26} | {before:10.3f} | {after:12.3f} | {100 * (after - before) / before:+6.1f}% | "
              f"{modules:>24} |")


if __name__ == "__main__":
    main()
