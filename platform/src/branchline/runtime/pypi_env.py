"""`@pypi` steps on this machine: a virtualenv per package set, built once, layered over the running environment.

The virtualenv holds only the step's extra packages; a `.pth` file appends the running interpreter's own
package directories, so branchline, the project and its dependencies are found too, after the step's own
versions (the same layering as the step's image on Batch: the project's image plus the packages). It is
built with this machine's pip and its configuration, under `.branchline/envs/<hash>`, and reused while the
hash holds. The task then runs as `python -m branchline.runtime.entrypoint` in it (the forked worker execs).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import site
import subprocess
import sys
import venv
from collections.abc import Mapping, Sequence
from pathlib import Path

from branchline.authoring.attach import Attached, to_env
from branchline.errors import FlowError
from branchline.runtime.entrypoint import TaskSpec

READY = ".branchline-ready"


def python_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def env_key(requirements: Sequence[str]) -> str:
    text = "\n".join([sys.executable, python_version(), *sorted(requirements)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _parent_paths() -> list[str]:
    """The running environment's package directories (and branchline's own, for a source checkout)."""
    paths = [*site.getsitepackages(), site.getusersitepackages(), str(Path(__file__).resolve().parents[2])]
    return [p for p in dict.fromkeys(paths) if Path(p).is_dir()]


def ensure_env(root: Path, requirements: Sequence[str], python: str | None) -> Path:
    """The virtualenv's python for these requirements, built now if it is not there yet."""
    if python and python != python_version():
        raise FlowError(
            f"@pypi(python={python!r}) but this machine runs the flow with Python {python_version()}",
            hint=f"run the flow with Python {python}, or drop python= (the step's Batch image decides there)",
        )
    home = root / ".branchline" / "envs" / env_key(requirements)
    interpreter = home / "bin" / "python"
    if (home / READY).exists():
        return interpreter
    shutil.rmtree(home, ignore_errors=True)
    venv.EnvBuilder(with_pip=False, symlinks=True).create(home)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    target = Path(subprocess.check_output([str(interpreter), "-c", purelib], text=True).strip())
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(target),
         *requirements],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        raise FlowError(f"pip could not install {', '.join(requirements)} for the @pypi step: {last}",
                        hint="check the package names and versions in @pypi(packages=...)")
    (target / "zz-branchline-parent.pth").write_text("\n".join(_parent_paths()) + "\n")
    (home / READY).write_text("\n".join(requirements) + "\n")
    return interpreter


def exec_command(
    interpreter: Path, spec: TaskSpec, *, flow_file: Path, flow: str, datastore: str,
    attached: Sequence[Attached], extra_env: Mapping[str, str] | None = None,
) -> tuple[str, list[str], dict[str, str]]:
    """What the forked worker execs: the task entry point in the virtualenv, the task named by BRANCHLINE_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANCHLINE_")}
    env.update(extra_env or {})
    env.update(
        BRANCHLINE_FLOW_FILE=str(flow_file.resolve()), BRANCHLINE_FLOW=flow, BRANCHLINE_STEP=spec.step,
        BRANCHLINE_RUN_ID=spec.run_id, BRANCHLINE_TASK_ID=spec.task_id, BRANCHLINE_NAMESPACE=spec.namespace,
        BRANCHLINE_DATASTORE=datastore, BRANCHLINE_ATTEMPT=str(spec.attempt),
        BRANCHLINE_MAX_ATTEMPTS=str(spec.max_attempts), BRANCHLINE_WITH=to_env(attached), BRANCHLINE_SCHEDULER="local",
    )  # fmt: skip
    if spec.origin_run_id:
        env["BRANCHLINE_ORIGIN_RUN_ID"] = spec.origin_run_id
    if spec.fallback is not None:
        env["BRANCHLINE_CATCH_FALLBACK"] = "1"
    return str(interpreter), [str(interpreter), "-m", "branchline.runtime.entrypoint"], env
