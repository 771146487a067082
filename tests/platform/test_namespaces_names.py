"""`Names`: every derived AWS/MLflow name is valid for its service, readable, and distinct.

Validity is checked against rules written here from the AWS documentation and against the
botocore service models themselves, not against `branchline.namespaces.limits`.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from branchline.errors import ConfigError
from branchline.namespaces import (
    TAG_FLOW,
    TAG_GIT_SHA,
    TAG_NAMESPACE,
    TAG_PROJECT,
    Names,
    NamespaceError,
    limits,
    namespace_for_branch,
    namespace_for_user,
)
from branchline.namespaces.names import reserved_segments
from tests.platform.test_namespaces import PROPERTY, branches, hostile_names

SFN_FORBIDDEN = set(' ?*<>{}[]"#%\\^|~`$&,;:/')
SAFE_80 = re.compile(r"[A-Za-z0-9_-]{1,80}")
BATCH_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
SCHEDULE_OK = re.compile(r"[0-9A-Za-z_.-]{1,64}")
TAG_VALUE_PUNCTUATION = set("_.:/=+-@")


def sfn_ok(name: str) -> bool:
    return SAFE_80.fullmatch(name) is not None and not (set(name) & SFN_FORBIDDEN)


def tag_value_ok(value: str) -> bool:
    """AWS: up to 256 Unicode letters, digits, spaces and `_ . : / = + - @`."""
    return len(value) <= 256 and all(
        unicodedata.category(c)[0] in "LNZ" or c in TAG_VALUE_PUNCTUATION for c in value
    )


projects = st.from_regex(r"[a-z0-9][a-z0-9-]{0,39}", fullmatch=True).filter(lambda p: not reserved_segments(p))
namespaces = st.one_of(
    st.just("prod"),
    branches.map(namespace_for_branch),
    st.from_regex(r"[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,3}", fullmatch=True).map(namespace_for_branch),
    branches.map(namespace_for_user),
)
identifiers = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,150}", fullmatch=True)
unicode_identifiers = st.text(st.characters(categories=("Lu", "Ll", "Lo", "Nl")), min_size=1, max_size=30)
flows = st.one_of(identifiers, unicode_identifiers, st.text(min_size=1), hostile_names)
steps = st.one_of(st.from_regex(r"[a-z_][a-z0-9_]{0,40}", fullmatch=True), st.text(min_size=1))
task_ids = st.one_of(st.integers(0, 10**6).map(str), st.text(min_size=1), hostile_names)


# ---------------------------------------------------------------- examples (real outputs, pinned)

BRANCH = namespace_for_branch("feature/a-really-long-branch-name-for-login")
PROD = Names("churn-model", "prod")


@pytest.mark.parametrize(
    ("names", "method", "args", "expected"),
    [
        (PROD, "state_machine", ("TrainFlow",), "churn-model-prod-TrainFlow"),
        (PROD, "job_definition", ("TrainFlow", "start"), "churn-model-prod-TrainFlow-start"),
        (PROD, "schedule", ("TrainFlow",), "churn-model-prod-TrainFlow"),
        (PROD, "state_machine", ("Tr\u00e4ning",), "churn-model-prod-Traning-9cc2aac6"),
        (PROD, "state_machine", ("deadbeef",), "churn-model-prod-deadbeef-0186f7c8"),
        (PROD, "state_machine", ("Train_",), "churn-model-prod-Train_"),
        (PROD, "execution", ("_run",), "run-66e78edb"),
        (Names("churn-model", BRANCH), "state_machine", ("TrainFlow",),
         "churn-model-br-feature-a-really-lon-6688db1a-TrainFlow"),
        (Names("churn-model", BRANCH), "schedule", ("TrainingPipelineFlow",),
         "churn-model-br-feature-a-really-lo-TrainingPipelineFlow-b71695a3"),
        (Names("churn-model", BRANCH), "job_name", ("TrainFlow", "train", "3"),
         "churn-model-br-feature-a-really-lon-6688db1a-TrainFlow-train-3"),
        (Names("churn-model", BRANCH), "execution", ("sfn-1234",), "sfn-1234"),
        (Names("churn-model", BRANCH), "s3_prefix", (),
         "branchline/churn-model/br-feature-a-really-lon-6688db1a"),
        (Names("churn-model", BRANCH), "mlflow_experiment", ("TrainFlow",), "churn-model/TrainFlow/dev"),
        (Names("churn-model", BRANCH), "alias", (), "live"),
    ],
)
def test_pinned_names(names: Names, method: str, args: tuple[str, ...], expected: str) -> None:
    """Pinned: a change here renames deployed resources (and orphans the old ones)."""
    assert getattr(names, method)(*args) == expected


# ---------------------------------------------------------------- validity


@PROPERTY
@given(projects, namespaces, flows, steps, task_ids)
def test_every_name_is_valid_for_its_service(project: str, ns: str, flow: str, step: str, task: str) -> None:
    names = Names(project, ns)
    assert sfn_ok(names.state_machine(flow))
    assert sfn_ok(names.execution(task))
    assert sfn_ok(names.alias())
    assert BATCH_OK.fullmatch(names.job_definition(flow, step))
    assert BATCH_OK.fullmatch(names.job_name(flow, step, task))
    assert SCHEDULE_OK.fullmatch(names.schedule(flow))
    assert len(names.s3_prefix().encode()) <= 1024
    assert len(names.mlflow_experiment(flow)) <= 500
    for key, value in names.tags(flow, task).items():
        assert len(key) <= 128 and not key.startswith("aws:")
        assert value and tag_value_ok(value), (key, value)
    for key, value in names.mlflow_tags(flow=flow, branch=task, git_sha=task, pr_number=1).items():
        assert len(key) <= 250 and len(value) <= 8000


@PROPERTY
@given(projects, namespaces, identifiers)
def test_plain_inputs_give_plain_readable_names(project: str, ns: str, flow: str) -> None:
    """No hash when nothing had to change; otherwise the readable head keeps a share of every part."""
    names = Names(project, ns)
    full = f"{project}-{ns}-{flow}"
    name = names.state_machine(flow)
    if len(full) <= 80 and not re.search(r"-[0-9a-f]{8}$", full):
        assert name == full
    else:
        assert re.search(r"-[0-9a-f]{8}$", name)
        assert name.startswith(project[:15])
        assert flow[:15] in name


# ---------------------------------------------------------------- uniqueness


@PROPERTY
@given(projects, st.lists(st.tuples(namespaces, flows), min_size=2, max_size=25, unique=True))
def test_distinct_namespace_flow_pairs_get_distinct_state_machines(
    project: str, pairs: list[tuple[str, str]]
) -> None:
    for method in ("state_machine", "schedule"):
        derived = {getattr(Names(project, ns), method)(flow) for ns, flow in pairs}
        assert len(derived) == len(pairs), method


@PROPERTY
@given(projects, st.lists(st.tuples(namespaces, flows, steps, task_ids), min_size=2, max_size=25,
                          unique=True))
def test_distinct_inputs_get_distinct_batch_names(
    project: str, rows: list[tuple[str, str, str, str]]
) -> None:
    definitions = {(ns, flow, step) for ns, flow, step, _ in rows}
    assert len({Names(project, ns).job_definition(flow, step) for ns, flow, step in definitions}) == len(
        definitions
    )
    assert len({Names(project, ns).job_name(flow, step, task) for ns, flow, step, task in rows}) == len(rows)


@PROPERTY
@given(st.lists(task_ids, min_size=2, max_size=30, unique=True))
def test_distinct_run_ids_get_distinct_executions(run_ids: list[str]) -> None:
    names = Names("p", "prod")
    assert len({names.execution(r) for r in run_ids}) == len(run_ids)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a `-` inside a later part must not let parts slide across the namespace boundary
        (("br-x", "y", "s", "t-u"), ("br-x-y", "s", "t", "u")),
        (("prod", "TrainFlow", "a", "1"), ("prod", "trainflow", "a", "1")),
        (("prod", "F" * 200 + "a", "s", "1"), ("prod", "F" * 200 + "b", "s", "1")),
        (("prod", "Flow", "s", "a/b"), ("prod", "Flow", "s", "a-b")),
        (("prod", "Tr\u00e4ning", "s", "1"), ("prod", "Traning", "s", "1")),
    ],
)
def test_tricky_pairs_stay_distinct(a: tuple[str, str, str, str], b: tuple[str, str, str, str]) -> None:
    na, nb = Names("p", a[0]), Names("p", b[0])
    assert na.job_name(*a[1:]) != nb.job_name(*b[1:])
    assert na.job_definition(*a[1:3]) != nb.job_definition(*b[1:3]) or a[:3] == b[:3]
    assert na.state_machine(a[1]) != nb.state_machine(b[1]) or a[:2] == b[:2]


@pytest.mark.parametrize("run_id", ["20240101T120000-abc123", "sfn-1234", "run_7"])
def test_valid_run_ids_are_their_own_execution_names(run_id: str) -> None:
    """The runtime's run ids (`<UTC timestamp>-<6 hex>`) round-trip: execution name == run id."""
    assert Names("p", "prod").execution(run_id) == run_id


def test_long_names_sharing_a_head_stay_distinct_and_readable() -> None:
    names = Names("churn-model", namespace_for_branch("feature/x"))
    a, b = names.state_machine("A" * 300 + "One"), names.state_machine("A" * 300 + "Two")
    assert a != b
    assert len(a) == len(b) == 80
    assert a.startswith("churn-model-br-feature-x-")


# ---------------------------------------------------------------- tags, prefixes, experiments


def test_tags_carry_identity_and_omit_what_is_not_given() -> None:
    names = Names("churn-model", "prod")
    assert names.tags() == {TAG_PROJECT: "churn-model", TAG_NAMESPACE: "prod"}
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert names.tags("TrainFlow", sha) == {
        TAG_PROJECT: "churn-model",
        TAG_NAMESPACE: "prod",
        TAG_FLOW: "TrainFlow",
        TAG_GIT_SHA: sha,
    }
    assert names.tags("Tr\u00e4ning")[TAG_FLOW] == "Tr\u00e4ning", "Unicode letters are valid tag values"
    assert tag_value_ok(names.tags('x";rm')[TAG_FLOW])


def test_mlflow_tags() -> None:
    names = Names("churn-model", namespace_for_branch("feature/x"))
    tags = names.mlflow_tags(flow="TrainFlow", branch="feature/x", git_sha="abc123", pr_number="42")
    assert tags == {
        "branchline.project": "churn-model",
        "branchline.namespace": namespace_for_branch("feature/x"),
        "branchline.flow": "TrainFlow",
        "branchline.branch": "feature/x",
        "mlflow.source.git.branch": "feature/x",
        "branchline.git_sha": "abc123",
        "mlflow.source.git.commit": "abc123",
        "branchline.pr_number": "42",
    }
    assert set(names.mlflow_tags()) == {"branchline.project", "branchline.namespace"}
    assert names.mlflow_tags(branch="x" * 9000)["branchline.branch"] != names.mlflow_tags(branch="x" * 8999)[
        "branchline.branch"
    ]


@pytest.mark.parametrize("pr", [0, -1, "abc", "4 2", "\u0664\u0662", True])
def test_bad_pr_number_is_rejected(pr: object) -> None:
    with pytest.raises(NamespaceError, match="pull request number"):
        Names("p", "prod").mlflow_tags(pr_number=pr)  # type: ignore[arg-type]


def test_s3_prefix_puts_namespace_first_below_the_project() -> None:
    assert Names("churn-model", "user-alice").s3_prefix() == "branchline/churn-model/user-alice"


@PROPERTY
@given(st.lists(flows, min_size=2, max_size=20, unique=True))
def test_distinct_flows_get_distinct_experiments(flow_names: list[str]) -> None:
    names = Names("p", "prod")
    assert len({names.mlflow_experiment(f) for f in flow_names}) == len(flow_names)


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "project", ["", "Churn", "churn_model", "-churn", "a" * 41, "churn model", "ch\u00fcrn"]
)
def test_bad_project_is_a_config_error(project: str) -> None:
    with pytest.raises(ConfigError, match="invalid project name") as err:
        Names(project, "prod")
    assert "[tool.branchline]" in (err.value.hint or "")


@pytest.mark.parametrize("ns", ["", "Prod", "br-x/y", "feature-x"])
def test_bad_namespace_is_rejected(ns: str) -> None:
    with pytest.raises(NamespaceError, match="namespace"):
        Names("p", ns)


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda n: n.state_machine(""), "flow name"),
        (lambda n: n.job_definition("F", ""), "step name"),
        (lambda n: n.job_name("F", "s", ""), "task id"),
        (lambda n: n.execution(""), "run id"),
        (lambda n: n.tags("F", ""), "git sha"),
    ],
)
def test_empty_parts_are_named(call: object, what: str) -> None:
    with pytest.raises(NamespaceError, match=f"{what} is empty"):
        call(Names("p", "prod"))  # type: ignore[operator]


# ---------------------------------------------------------------- the limits table matches AWS and MLflow


def test_limits_match_the_botocore_service_models() -> None:
    import botocore.session

    session = botocore.session.get_session()

    def shape(service: str, operation: str, member: str) -> dict[str, object]:
        op = session.get_service_model(service).operation_model(operation)
        return dict(op.input_shape.members[member].metadata)

    assert shape("stepfunctions", "CreateStateMachine", "name")["max"] == limits.STEP_FUNCTIONS.max_length
    assert shape("stepfunctions", "StartExecution", "name")["max"] == limits.STEP_FUNCTIONS.max_length
    alias = shape("stepfunctions", "CreateStateMachineAlias", "name")
    assert re.fullmatch(str(alias["pattern"]).strip("^$"), limits.LIVE_ALIAS)
    for service, operation in (("scheduler", "CreateSchedule"), ("events", "PutRule")):
        meta = shape(service, operation, "Name")
        assert meta["max"] == limits.SCHEDULER.max_length
        pattern = str(meta["pattern"])
        for ch in limits.SCHEDULER.extra_chars:
            assert re.fullmatch(pattern, f"a{ch}b"), (service, ch)
    for service in ("stepfunctions", "batch", "scheduler"):
        model = session.get_service_model(service)
        assert model.shape_for("TagKey").metadata["max"] == limits.AWS_TAG_KEY_MAX_LENGTH
        assert model.shape_for("TagValue").metadata["max"] == limits.AWS_TAG_VALUE_MAX_LENGTH


def test_limits_match_mlflow() -> None:
    validation = pytest.importorskip("mlflow.utils.validation", reason="mlflow is not installed")
    assert validation.MAX_EXPERIMENT_NAME_LENGTH == limits.MLFLOW_EXPERIMENT_MAX_LENGTH
    assert validation.MAX_TAG_VAL_LENGTH == limits.MLFLOW_TAG_VALUE_MAX_LENGTH
    assert validation.MAX_ENTITY_KEY_LENGTH == limits.MLFLOW_TAG_KEY_MAX_LENGTH
