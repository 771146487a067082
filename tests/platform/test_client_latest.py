"""branchline's own `latest_run()` is the newest *successful* run (Metaflow's `latest_successful_run`), so the
README's one-liner survives a failed attempt; failed runs are reachable explicitly; the printed hint names the
namespace when the client would not look there by default."""

from __future__ import annotations

import re

import pytest

from branchline.client import Flow, Run, latest_run
from branchline.errors import ArtifactError

FLOW = '''
from branchline import FlowSpec, Parameter, step


class MaybeFlow(FlowSpec):
    fail = Parameter("fail", default=False)

    @step
    def start(self):
        if self.fail:
            raise RuntimeError("asked to fail")
        self.score = 0.9
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MaybeFlow()
'''


def _run_id(stdout: str) -> str:
    match = re.search(r"running MaybeFlow/(\S+)", stdout)
    assert match, stdout
    return match.group(1)


def test_latest_run_is_the_newest_successful_one_and_failed_runs_are_explicit(project):
    (project.root / "flows" / "maybe.py").write_text(FLOW)
    with pytest.raises(ArtifactError, match="no successful run of MaybeFlow"):
        latest_run("MaybeFlow")
    ok = _run_id(project.run("maybe.py", "run").stdout)
    bad = _run_id(project.run("maybe.py", "run", "--fail", "true", check=False).stdout)
    assert latest_run("MaybeFlow").id == ok
    assert latest_run("MaybeFlow").data.score == 0.9  # the README's one-liner, after a failure
    assert latest_run("MaybeFlow", successful=False).id == bad
    assert latest_run("MaybeFlow", successful=None).id == bad  # the newest, whatever its state
    assert Flow("MaybeFlow").latest_run.id == bad  # Metaflow's own semantics are unchanged
    assert Flow("MaybeFlow").latest_successful_run.id == ok


def test_no_successful_run_names_the_newest_and_how_to_read_it(project):
    (project.root / "flows" / "maybe.py").write_text(FLOW)
    bad = _run_id(project.run("maybe.py", "run", "--fail", "true", check=False).stdout)
    with pytest.raises(ArtifactError) as raised:
        latest_run("MaybeFlow")
    assert f"its newest run is MaybeFlow/{bad} (failed)" in str(raised.value)
    assert "latest_run('MaybeFlow', successful=None)" in str(raised.value)


def test_printed_hint_names_the_namespace_when_it_is_not_the_users(project):
    (project.root / "flows" / "maybe.py").write_text(FLOW)
    mine = project.run("maybe.py", "run").stdout
    assert f"read them: Run('MaybeFlow/{_run_id(mine)}')['end']" in mine
    (project.root / "flows" / "branched.py").write_text(
        FLOW.replace("import FlowSpec", "import FlowSpec, project").replace("class", '@project(name="proj")\nclass')
    )
    other = project.run("branched.py", "--branch", "feature", "run").stdout  # a branch namespace, not user-<name>
    hint = re.search(r"read them: (Run\(.*\))\['end'\]", other)
    assert hint, other
    assert re.fullmatch(rf"Run\('MaybeFlow/{_run_id(other)}', namespace='br-[a-z0-9-]+'\)", hint.group(1)), other
    assert eval(hint.group(1), {"Run": Run}).successful  # the printed hint works as printed
