"""Metaflow features branchline does not have stop a flow before anything runs, with one line naming the feature and
the supported alternative (no traceback, nothing written)."""

from __future__ import annotations

import pytest

from branchline.authoring import unsupported
from branchline.client import namespace
from branchline.errors import BranchlineError
from tests.metaflow_compat.harness import Side

STEP = """
    from metaflow import FlowSpec, step, {name}


    class UsesFlow(FlowSpec):
        {decorator}
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        UsesFlow()
"""

FLOW_LEVEL = """
    from metaflow import FlowSpec, step, {name}


    {decorator}
    class UsesFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        UsesFlow()
"""

VALUE = """
    from metaflow import FlowSpec, step, Config


    class UsesFlow(FlowSpec):
        config = Config("config", default="config.json")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        UsesFlow()
"""

CASES = {
    "@conda": (STEP, "conda", "@conda(libraries={'pandas': '2.2'})", "use @pypi (per step) or @pypi_base"),
    "@card": (STEP, "card", "@card", "log figures and reports to MLflow"),
    "@kubernetes": (STEP, "kubernetes", "@kubernetes(cpu=2)", "steps run on AWS Batch"),
    "@conda_base": (FLOW_LEVEL, "conda_base", "@conda_base(python='3.11')", "use @pypi_base for PyPI packages"),
    "@trigger_on_finish": (FLOW_LEVEL, "trigger_on_finish", "@trigger_on_finish(flow='Other')",
                           "step-functions trigger"),
    "S3": (STEP, "S3", "", "use boto3 in the step"),
    "Config": (VALUE, "Config", "", "use Parameter (or IncludeFile)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_unsupported_feature_stops_the_flow_in_one_line(case: str, branchline_side: Side) -> None:
    template, name, decorator, alternative = CASES[case]
    branchline_side.write("uses.py", template.format(name=name, decorator=decorator))
    proc = branchline_side.run("uses.py", "run", check=False)
    assert proc.returncode == 1, proc.stdout
    feature = (unsupported.DECORATORS.get(name) or unsupported.NAMES[name]).feature
    assert proc.stderr.startswith(f"error: {feature} is not supported by branchline\n  hint: ")
    assert alternative in proc.stderr and "Traceback" not in proc.stderr
    assert not (branchline_side.root / ".branchline").exists(), "a refused flow wrote something"


@pytest.mark.parametrize(
    "command", ["argo-workflows", "airflow", "kubernetes", "card", "tag", "logs", "dump", "check", "version"]
)
def test_an_unsupported_command_says_what_to_use(command: str, branchline_side: Side) -> None:
    branchline_side.write("uses.py", STEP.format(name="retry", decorator="@retry"))
    proc = branchline_side.run("uses.py", command, "create", "--some-option", "x", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {unsupported.COMMANDS[command].feature} is not supported by branchline")


def test_unsupported_calls_and_client_features_are_one_line_errors() -> None:
    from branchline import S3

    with pytest.raises(unsupported.UnsupportedFeature, match=r"metaflow\.S3 is not supported"):
        S3(s3root="s3://bucket/prefix")
    with pytest.raises(BranchlineError, match="is not a branchline namespace"):
        namespace("xyz_features")  # Metaflow's tags-as-namespaces: not a namespace here
    with pytest.raises(BranchlineError, match="names no deployment"):
        namespace("production:namespaceflow-0-fyaw")  # a Metaflow production token


def test_every_unsupported_name_is_importable_from_the_package() -> None:
    import branchline

    for name in [*unsupported.DECORATORS, *unsupported.NAMES]:
        assert isinstance(getattr(branchline, name), unsupported.UnsupportedName), name
