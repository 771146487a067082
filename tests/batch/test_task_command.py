"""`branchline task`, every Batch container's command, starts without the command line's Typer app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import atexit, json, sys
atexit.register(lambda: open({out!r}, "w").write(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
                                                                  ("typer", "rich", "click")))))
sys.argv = ["branchline", "task"]
from branchline.cli.entry import main
main()
"""


def test_branchline_task_skips_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    env = {"PATH": "/usr/bin:/bin"}  # no BRANCHLINE_* variables: the entry point names the first one missing
    done = subprocess.run([sys.executable, "-c", PROBE.format(out=str(out))], env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1, done
    assert done.stderr.strip() == "error: the task entrypoint needs BRANCHLINE_FLOW_FILE (or --flow-file)", done.stderr
    assert json.loads(out.read_text()) == []


def test_other_commands_still_go_through_the_cli(tmp_path: Path) -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "branchline"), "task", "--help"], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0 and "--flow-file" in done.stdout, done


def test_a_forked_worker_makes_its_own_aws_clients(moto_server: str) -> None:
    """A hybrid run's local workers write S3 from forked children: never over the parent's connections."""
    import os

    from branchline.aws.session import client

    parent = client("s3")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's teardown
        try:
            mine = client("s3")
            os.write(write, b"1" if mine is not parent and client("s3") is mine else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert client("s3") is parent
