"""A failing step keeps the user's frames even when their project lives under a directory named `branchline`
(the demo's clone): the console shows the last frames of their code, the `.err` log the whole traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import branchline
from branchline.runtime.user_traceback import is_platform_file, last_user_frames, user_traceback

HELPER = '''
def fit(rows):
    return check(rows)


def check(rows):
    if not rows:
        raise ValueError("no rows to fit on")
    return rows
'''

FLOW = '''
from branchline import FlowSpec, step

from helper import fit


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.model = fit([])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailingFlow()
'''


def _project_under_branchline(tmp_path: Path) -> Path:
    root = tmp_path / "branchline" / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n\n[tool.branchline]\nproject = "proj"\n')
    (root / "flows" / "helper.py").write_text(HELPER)
    (root / "flows" / "failing.py").write_text(FLOW)
    return root


def test_users_frames_survive_a_project_under_a_directory_named_branchline(tmp_path: Path) -> None:
    root = _project_under_branchline(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRANCHLINE_", "MLFLOW_"))}
    proc = subprocess.run(
        [sys.executable, "flows/failing.py", "run"], cwd=root, capture_output=True, text=True, timeout=300,
        env={**env, "BRANCHLINE_TRACKING": "0"},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    console = proc.stderr
    assert "ValueError: no rows to fit on" in console
    # the console: the last frames of the user's code, the raising line included, none of the platform's
    assert 'helper.py", line 8, in check' in console
    assert 'raise ValueError("no rows to fit on")' in console
    assert 'failing.py", line 10, in start' in console
    assert str(Path(branchline.__file__).parent) not in console
    # the .err log: the whole traceback, the platform's frames and the user's
    err_log = next(root.glob(".branchline/datastore/**/start/0/*.err"), None) or next(root.rglob("*.err"))
    log = err_log.read_text()
    assert "Traceback (most recent call last)" in log
    assert "entrypoint.py" in log and 'helper.py", line 3, in fit' in log
    # the record (what Task.exception and @catch show): every user frame, no platform frame
    from branchline.client import datastore, default_namespace, latest_run, namespace

    datastore(str(root / ".branchline" / "datastore"))
    namespace(None)
    try:
        recorded = latest_run("FailingFlow", successful=False)["start"].task.exception
    finally:
        datastore(None)
        default_namespace()
    assert recorded is not None
    assert 'helper.py", line 3, in fit' in recorded.traceback
    assert "entrypoint.py" not in recorded.traceback


def _raise_through(depth: int) -> None:
    if depth == 0:
        raise KeyError("deep")
    _raise_through(depth - 1)


def test_frames_are_the_platforms_by_location_not_by_name(tmp_path: Path) -> None:
    platform_dir = Path(branchline.__file__).parent
    assert is_platform_file(str(platform_dir / "runtime" / "entrypoint.py"))
    assert not is_platform_file(str(tmp_path / "branchline" / "flows" / "train.py"))
    assert not is_platform_file(str(platform_dir.parent / "branchline_extra" / "x.py"))  # a sibling, not inside
    assert not is_platform_file("<string>")
    try:
        _raise_through(2)
    except KeyError as exc:
        whole, last = user_traceback(exc), last_user_frames(exc, count=2)
        as_if_platform = user_traceback(exc, platform_dir=Path(__file__).parent)
    assert whole.count("in _raise_through") == 3 and last.count("in _raise_through") == 2
    assert "KeyError: 'deep'" in whole and "KeyError: 'deep'" not in last  # the message is the line above the frames
    assert "_raise_through" not in as_if_platform  # the frames of the directory named as the platform are dropped
