"""`@project` on branchline's namespaces: the same name rules as pull requests, hostile branch names safe, and one
line when `@project` and `[tool.branchline] project` disagree."""

from __future__ import annotations

import re

import pytest

from branchline.authoring.project import ProjectSpec, agreed_project, branchline_project, place
from branchline.errors import BranchlineError
from branchline.namespaces import namespace_for_branch, namespace_for_user
from branchline.namespaces.limits import BATCH, SCHEDULER, STEP_FUNCTIONS
from branchline.namespaces.names import Names
from tests.metaflow_compat.harness import Side

HOSTILE = 'zzz";echo${IFS}"hi";#'


@pytest.mark.parametrize(
    ("branch", "production", "namespace", "label"),
    [
        (None, False, namespace_for_user("alice"), "user.alice"),
        ("better_version", False, namespace_for_branch("better_version"), "test.better_version"),
        (HOSTILE, False, namespace_for_branch(HOSTILE), f"test.{HOSTILE}"),
        (None, True, "prod", "prod"),
    ],
)
def test_each_branch_gets_the_namespace_a_pull_request_of_it_would(branch, production, namespace, label) -> None:
    where = place(branch=branch, production=production, username="alice", spec=ProjectSpec("demo_project"))
    assert (where.namespace, where.branch_name, where.is_production) == (namespace, label, production)
    names = Names("demo-project", where.namespace)
    assert STEP_FUNCTIONS.accepts(names.state_machine("FirstFlow"))
    assert BATCH.accepts(names.job_definition("FirstFlow", "start"))
    assert SCHEDULER.accepts(names.schedule("FirstFlow"))


def test_the_decorators_own_branch_and_production_count_as_the_flags() -> None:
    def where(spec: ProjectSpec) -> tuple[str, str]:
        placed = place(branch=None, production=False, username="a", spec=spec)
        return placed.namespace, placed.branch_name

    assert where(ProjectSpec("p", branch="x")) == (namespace_for_branch("x"), "test.x")
    assert where(ProjectSpec("p", production=True)) == ("prod", "prod")
    with pytest.raises(BranchlineError, match="--branch 'y' and @project\\(branch='x'\\) disagree"):
        place(branch="y", production=False, username="a", spec=ProjectSpec("p", branch="x"))


@pytest.mark.parametrize(
    ("branch", "production", "message"),
    [("x", True, "branchline has one production namespace, prod"), ("  ", False, "--branch is empty")],
)
def test_impossible_placements_are_one_line_errors(branch, production, message) -> None:
    with pytest.raises(BranchlineError, match=message):
        place(branch=branch, production=production, username="a")


@pytest.mark.parametrize(
    ("name", "message"),
    [("Demo-Project", "not a valid project name"), ("my_br_model", "reserved namespace word"),
     ("x" * 41, "at most 40 characters")],
)
def test_project_names_follow_metaflows_rule_then_branchlines(name: str, message: str) -> None:
    with pytest.raises(BranchlineError, match=message):
        branchline_project(ProjectSpec(name))


def test_project_and_configuration_agree_or_the_message_says_which_to_change() -> None:
    assert agreed_project(ProjectSpec("demo_project"), None, "pyproject.toml") == "demo-project"
    assert agreed_project(ProjectSpec("demo_project"), "demo-project", "pyproject.toml") == "demo-project"
    assert agreed_project(None, "churn", "pyproject.toml") == "churn"
    with pytest.raises(BranchlineError) as info:
        agreed_project(ProjectSpec("demo_project"), "churn", "pyproject.toml")
    assert str(info.value) == (
        "@project(name='demo_project') and [tool.branchline] project = 'churn' (pyproject.toml) disagree\n"
        "  hint: change one: project = \"demo-project\" in pyproject.toml, or @project(name='churn')"
    )


FLOW = """
    from metaflow import FlowSpec, current, project, step


    @project(name="other_project")
    class ProjectFlow(FlowSpec):
        @step
        def start(self):
            print("branch", current.branch_name, "namespace", current.namespace, "deployment",
                  current.project_flow_name)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ProjectFlow()
"""


def test_a_disagreeing_run_stops_before_anything_runs(branchline_side: Side) -> None:
    branchline_side.write("project_flow.py", FLOW)
    proc = branchline_side.run("project_flow.py", "run", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "@project(name='other_project') and [tool.branchline] project = 'compat'" in proc.stderr
    assert not (branchline_side.root / ".branchline").exists(), "a refused run wrote something"


def test_a_hostile_branch_runs_in_its_own_namespace(branchline_side: Side) -> None:
    (branchline_side.root / "pyproject.toml").write_text('[tool.branchline]\nproject = "other-project"\n')
    branchline_side.write("project_flow.py", FLOW)
    out = branchline_side.run("project_flow.py", "--branch", HOSTILE, "run").stdout
    namespace = namespace_for_branch(HOSTILE)
    assert f"branch test.{HOSTILE} namespace {namespace} deployment other-project-{namespace}-ProjectFlow" in out
    assert (branchline_side.root / ".branchline" / "datastore" / namespace / "runs" / "ProjectFlow").is_dir()
    assert not (branchline_side.root / "hi").exists()


def test_branchline_deploy_refuses_a_project_flow_that_disagrees(branchline_side: Side) -> None:
    """`branchline deploy` (every flow of the project) names resources by the configured project: a `@project`
    flow of another name is refused before anything is deployed."""
    from branchline.aws.deploy.project import load_flows
    from branchline.config import load_config

    (branchline_side.root / "flows").mkdir()
    branchline_side.write("flows/project_flow.py", FLOW)
    (branchline_side.root / "pyproject.toml").write_text(
        '[tool.branchline]\nproject = "compat"\nflows = ["flows/project_flow.py"]\n')
    disagree = re.escape("@project(name='other_project') and [tool.branchline] project = 'compat'")
    with pytest.raises(BranchlineError, match=disagree):
        load_flows(load_config(branchline_side.root))
    (branchline_side.root / "pyproject.toml").write_text(
        '[tool.branchline]\nproject = "other-project"\nflows = ["flows/project_flow.py"]\n')
    assert [g.project for _, g in load_flows(load_config(branchline_side.root))] == ["other_project"]
