"""`make demo`: render the template with its defaults into a fresh directory, install it, run the sample flow.

Everything runs on this machine on embedded defaults: artifacts in the project's `.branchline/`,
MLflow in a local sqlite store there, Great Expectations from the project's `gx/` folder.
The project is installed editable (without dependencies: the demo's environment has them all) into the
environment running this script, so the generated project and the demo share one working environment:
every next step printed at the end runs there as printed (tests/template/test_demo.py runs each of them).

    python scripts/demo.py [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from cookiecutter.main import cookiecutter

REPO = Path(__file__).resolve().parents[1]
FLOW = "flows/train_flow.py"
REGISTER = "BRANCHLINE_REGISTER_MODELS"


def next_steps(project: Path, bin_dir: Path) -> list[tuple[str, str]]:
    """(shell command, what it shows) for after the demo; the first two lines enter the environment."""
    return [
        (f"source {shlex.quote(str(bin_dir / 'activate'))}", "the demo's environment: branchline and the project"),
        (f"cd {shlex.quote(str(project))}", ""),
        (f"python {FLOW} show", "the flow's steps and transitions"),
        ("branchline promote --local", "the gate judges the demo's model and moves your own champion"),
        (f"python {FLOW} run --fast true", "run it again (fewer hyper-parameters; registers no model unless asked)"),
        ("branchline ui", "the MLflow UI on .branchline/mlflow.db (http://127.0.0.1:5000)"),
        ("pytest -q tests/test_model.py", "the project's unit tests"),
    ]


def render(output_dir: Path) -> Path:
    source = f"branchline @ {(REPO / 'platform').as_uri()}"
    context = {"branchline_source": source}
    return Path(cookiecutter(str(REPO), no_input=True, output_dir=str(output_dir), extra_context=context))


def install_editable(project: Path) -> int:
    """`pip install -e project` into this interpreter's environment, dependencies already there."""
    print(f"demo: installing {project.name} (editable) into {sys.prefix}", flush=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--editable", str(project)]
    return subprocess.run(cmd, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--output-dir", type=Path, default=REPO / "demo-output" / datetime.now().strftime("%Y%m%d-%H%M%S")
    )
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    project = render(args.output_dir)
    print(f"demo: rendered the template into {project}", flush=True)
    code = install_editable(project)
    if code != 0:
        print(f"demo: installing the project failed (exit {code}); see pip's message above", file=sys.stderr)
        return code
    env = {k: v for k, v in os.environ.items() if k not in ("BRANCHLINE_DATASTORE", "MLFLOW_TRACKING_URI")}
    env[REGISTER] = "1"  # a laptop run registers only when asked: the demo asks, so the gate has a candidate
    print(f"demo: running the sample flow: {REGISTER}=1 python {FLOW} run", flush=True)
    proc = subprocess.run([sys.executable, FLOW, "run"], cwd=project, env=env, check=False)
    if proc.returncode != 0:
        print(f"demo: the sample flow failed (exit {proc.returncode}); see the message above", file=sys.stderr)
        return proc.returncode
    print()
    print("the sample flow ran end to end:")
    print(f"  project:   {project}")
    print(f"  artifacts: {project / '.branchline' / 'datastore'}")
    print(f"  MLflow:    {project / '.branchline' / 'mlflow.db'}")
    print()
    print("next steps (paste them into a shell):")
    steps = next_steps(project, Path(sys.executable).parent)
    width = max(len(command) for command, _ in steps)
    for command, what in steps:
        print(f"  {command:{width}}  # {what}" if what else f"  {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
