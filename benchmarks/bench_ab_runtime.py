"""The local runtime at another revision vs this checkout, on the same flows, runs interleaved.

    python benchmarks/bench_ab_runtime.py [--base main] [--repeat 9] [--tracking off]

For a refactoring that must not slow local runs down: the base revision's `platform/src` is exported with
`git archive` and put first on PYTHONPATH; each scenario then alternates base and checkout run by run, so a
busy machine slows both alike. Same flows as bench_local_runtime.py. Prints the median of each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_local_runtime import FOREACH, LINEAR, TWO_STEP, timed, write_flow

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = [
    ("2-step flow (start-up)", "two", TWO_STEP, []),
    ("6-step linear flow", "linear", LINEAR, []),
    ("foreach of 2", "fan", FOREACH, ["--width", "2"]),
    ("foreach of 32", "fan", FOREACH, ["--width", "32"]),
]


def export(rev: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "platform/src"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "platform" / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="main")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--tracking", choices=["on", "off"], default="off")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    trees = {args.base: export(args.base, work / "base"), "checkout": REPO / "platform" / "src"}
    env = {**os.environ, "USER": os.environ.get("USER", "bench")}
    env["BRANCHLINE_TRACKING"] = "1" if args.tracking == "on" else "0"
    env.pop("BRANCHLINE_DATASTORE", None)
    medians: dict[tuple[str, str], float] = {}
    for label, name, body, extra in SCENARIOS:
        flows = {}
        for tree in trees:
            directory = work / f"{tree}-{name}"
            directory.mkdir(exist_ok=True)
            (directory / "pyproject.toml").write_text('[tool.branchline]\nproject = "bench"\n')
            flows[tree] = write_flow(directory, name, body, "branchline")
        samples: dict[str, list[float]] = {tree: [] for tree in trees}
        for i in range(args.repeat + 1):  # the first round warms file-system caches (and writes bytecode)
            for tree, src in trees.items():
                cmd = [sys.executable, str(flows[tree]), "run", *extra]
                elapsed = timed(cmd, flows[tree].parent, {**env, "PYTHONPATH": str(src)})
                if i:
                    samples[tree].append(elapsed)
        for tree in trees:
            medians[(tree, label)] = statistics.median(samples[tree])
    shutil.rmtree(work, ignore_errors=True)
    base, head = trees
    print(f"median of {args.repeat} interleaved runs, tracking {args.tracking}, {os.cpu_count()} cores, "
          f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}")
    print(f"| {'scenario':24} | {base + ' (s)':>12} | {'checkout (s)':>12} | {'change':>7} |")
    print(f"|{'-' * 26}|{'-' * 13}:|{'-' * 13}:|{'-' * 8}:|")
    for label, *_ in SCENARIOS:
        before, after = medians[(base, label)], medians[(head, label)]
        print(f"| {label:24} | {before:12.3f} | {after:12.3f} | {100 * (after - before) / before:+6.1f}% |")


if __name__ == "__main__":
    main()
