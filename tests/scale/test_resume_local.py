"""Resume on the laptop at the shape that matters at scale: a resumed foreach re-runs only its failed item,
which reads its own value from where the original run wrote it (the cloned foreach task's values are not copied).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from branchline.client import Run
from branchline.datastore import layout
from tests.flows import flow_path


def _flow(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BRANCHLINE_TRACKING": "0", "BRANCHLINE_NAMESPACE": "user-scale"}
    env.pop("BRANCHLINE_DATASTORE", None)
    return subprocess.run([sys.executable, "flows/resume_foreach_flow.py", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.branchline]\nproject = "proj"\n')
    shutil.copy(flow_path("resume_foreach_flow"), root / "flows")
    monkeypatch.chdir(root)
    return root


def test_a_resumed_foreach_reruns_only_the_failed_item(project: Path) -> None:
    failed = _flow(project, "run", "--run-id", "first", "--fail_item", "1", "--fail_after", "1.5")
    assert failed.returncode == 1 and "item 1 fails in the first run" in failed.stderr
    done = _flow(project, "resume", "first")
    assert done.returncode == 0, done.stdout + done.stderr
    second = re.search(r"resuming ResumeForeachFlow/(\S+)", done.stdout).group(1)  # type: ignore[union-attr]
    datastore = str(project / ".branchline" / "datastore")
    resumed = Run(f"ResumeForeachFlow/{second}", namespace="user-scale", datastore=datastore)
    assert resumed["end"].task.data.result == "V0,V1,V2"
    work = {task.id: task.metadata for task in resumed["work"]}
    assert {tid: meta.get("cloned_from") for tid, meta in work.items()} == {
        "0-0": "first/work/0-0", "0-1": None, "0-2": "first/work/0-2"}
    assert resumed["start"].task.metadata["cloned_from"] == "first/start/0"
    # the re-run item read its value from the original run's foreach values: nothing was copied
    values = Path(datastore) / layout.foreach_values_key("user-scale", "ResumeForeachFlow", second, "start", "0")
    assert not values.exists()
    assert values.parent.parent.parent.parent.joinpath("first", "start", "0", layout.FOREACH_VALUES).exists()
