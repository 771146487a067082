"""Namespace derivation: hostile branch names, CI events, hand-typed namespaces.

The oracles here (regexes, limits) are written from the services' documentation, independently
of `branchline.namespaces.limits`, so a wrong constant there fails a test here.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from branchline.errors import BranchlineError
from branchline.namespaces import (
    CIEnvironmentError,
    NamespaceError,
    is_production,
    namespace_for_branch,
    namespace_for_user,
    namespace_from_ci,
    namespace_from_ref,
    validate_namespace,
)

PROPERTY = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

NAMESPACE_OK = re.compile(r"prod|(?:br|user)-[a-z0-9]+(?:-[a-z0-9]+)*")

HOSTILE_PIECES = [
    "feature", "Feature", "/", ".", "..", "-", "_", " ", "\n", "\t", "\r", '"', "'", "`", "$(", ")",
    "${IFS}", ";", "#", "&&", "|", "rm -rf /", "refs/heads/", "main", "Main", "MAIN", "\U0001f680",
    "\U0001f469\u200d\U0001f4bb", "\u05e2\u05d1\u05e8\u05d9\u05ea",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "\u202e", "\u200b", "\u00e9", "e\u0301", "\u00df", "\uff21", "\u674e", "x" * 60, "deadbeef", "0123abcd",
    "\x00", "\\", "~", "^", ":", "?", "*", "[", "@{", "%", "\ud800",
]
hostile_names = st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=12).map("".join)
ascii_names = st.text(alphabet=string.printable, min_size=1, max_size=300)
branches = st.text(min_size=1) | hostile_names | ascii_names | st.text(min_size=150, max_size=400)

VARIANTS = {
    "swapcase": str.swapcase,
    "upper": str.upper,
    "lower": str.lower,
    "slash-to-dash": lambda s: s.replace("/", "-"),
    "dash-to-slash": lambda s: s.replace("-", "/"),
    "dash-to-underscore": lambda s: s.replace("-", "_"),
    "trailing-dot": lambda s: s + ".",
    "leading-space": lambda s: " " + s,
    "doubled-separator": lambda s: s.replace("/", "//"),
}
variant_pairs = st.tuples(branches | hostile_names, st.sampled_from(sorted(VARIANTS))).map(
    lambda pair: (pair[0], VARIANTS[pair[1]](pair[0]))
)


def assert_valid_namespace(ns: str) -> None:
    assert len(ns) <= 32, ns
    assert NAMESPACE_OK.fullmatch(ns), ns
    assert validate_namespace(ns) == ns


# ---------------------------------------------------------------- hostile table (real outputs, pinned)

HOSTILE_TABLE = [
    ('zzz";echo${IFS}"hi";#', "br-zzz-echo-ifs-hi-6aabebd9"),
    ("feature/x", "br-feature-x-217d2bf5"),
    ("feature-x", "br-feature-x-c791eb83"),
    ("Feature-X", "br-feature-x-991d5c24"),
    ("../../etc/passwd", "br-etc-passwd-3754d6cb"),
    ("$(rm -rf /)", "br-rm-rf-a055ea1a"),
    ("a" * 250, "br-aaaaaaaaaaaaaaaaaaaa-3f3e35e0"),
    ("\U0001f680\U0001f525", "br-275479e3"),
    ("\u05e2\u05d1\u05e8\u05d9\u05ea \u05d7\u05d3\u05e9\u05d4", "br-7bf9fd28"),
    ("refs/heads/x", "br-refs-heads-x-a7cd9860"),
    ("my branch", "br-my-branch-cdb4b6a3"),
    ("line\nbreak", "br-line-break-697affca"),
    ("main", "br-main-0d6e4079"),
    ("Main", "br-main-eb814be3"),
    ("Stra\u00dfe/\u00dcber", "br-strasse-uber-9ea06007"),
]


@pytest.mark.parametrize(("branch", "expected"), HOSTILE_TABLE, ids=[repr(b)[:30] for b, _ in HOSTILE_TABLE])
def test_hostile_branch_table(branch: str, expected: str) -> None:
    """Pinned: a change here renames every deployed branch resource."""
    ns = namespace_for_branch(branch)
    assert ns == expected
    assert_valid_namespace(ns)


def test_hostile_table_has_no_collisions() -> None:
    outputs = [namespace_for_branch(b) for b, _ in HOSTILE_TABLE]
    assert len(set(outputs)) == len(outputs)


@pytest.mark.parametrize(
    ("a", "b"),
    [("feature/x", "feature-x"), ("Feature/X", "feature-x"), ("main", "Main"), ("a.b", "a-b"), ("x", "x ")],
)
def test_case_and_punctuation_variants_stay_distinct(a: str, b: str) -> None:
    assert namespace_for_branch(a) != namespace_for_branch(b)


# ---------------------------------------------------------------- properties


@PROPERTY
@given(branches)
def test_branch_namespace_is_valid_and_deterministic(branch: str) -> None:
    ns = namespace_for_branch(branch)
    assert_valid_namespace(ns)
    assert ns.startswith("br-")
    assert not is_production(ns)
    assert namespace_for_branch(branch) == ns


@PROPERTY
@given(st.lists(branches, min_size=2, max_size=30, unique=True))
def test_distinct_branches_get_distinct_namespaces(names: list[str]) -> None:
    assert len({namespace_for_branch(b) for b in names}) == len(names)


@PROPERTY
@given(variant_pairs)
def test_names_differing_in_case_or_punctuation_stay_distinct(pair: tuple[str, str]) -> None:
    a, b = pair
    assume(a != b)
    assert namespace_for_branch(a) != namespace_for_branch(b)


@PROPERTY
@given(st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=20))
def test_slug_is_readable(word: str) -> None:
    """A branch that is already a short slug appears verbatim in its namespace."""
    assert namespace_for_branch(word).startswith(f"br-{word}-")


@PROPERTY
@given(branches | st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=40))
def test_user_namespace_is_valid(username: str) -> None:
    ns = namespace_for_user(username)
    assert_valid_namespace(ns)
    assert ns.startswith("user-")


@PROPERTY
@given(st.lists(branches | st.from_regex(r"[a-z0-9-]{1,30}", fullmatch=True), min_size=2, max_size=30,
                unique=True))
def test_distinct_users_get_distinct_namespaces(names: list[str]) -> None:
    assert len({namespace_for_user(u) for u in names}) == len(names)


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("alice", "user-alice"),
        ("Alice", "user-alice-3bc51062"),
        ("bob.smith", "user-bob-smith-365b77fb"),
        ("deadbeef", "user-deadbeef-2baf1f40"),  # looks like a hash: gets a real one
        ("\u674e\u96f7", "user-3a47328a"),
    ],
)
def test_user_namespace_examples(username: str, expected: str) -> None:
    assert namespace_for_user(username) == expected


def test_user_hash_suffix_cannot_be_forged() -> None:
    """A user literally named like another's hashed namespace does not take it over."""
    taken = namespace_for_user("Alice").removeprefix("user-")
    assert namespace_for_user(taken) != namespace_for_user("Alice")


# ---------------------------------------------------------------- refs and CI events


@PROPERTY
@given(branches)
def test_ref_of_a_branch_maps_to_its_namespace(branch: str) -> None:
    assume(branch != "main")
    assert namespace_from_ref(f"refs/heads/{branch}") == namespace_for_branch(branch)


def test_production_ref_is_prod_and_nothing_else_is() -> None:
    assert namespace_from_ref("refs/heads/main") == "prod"
    assert namespace_from_ref("refs/heads/Main") == namespace_for_branch("Main")
    assert namespace_from_ref("refs/heads/release", production_branch="release") == "prod"
    assert namespace_from_ref("refs/heads/main", production_branch="release") == namespace_for_branch("main")
    assert namespace_from_ref("refs/heads/refs/heads/main") == namespace_for_branch("refs/heads/main")
    assert is_production("prod")


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("refs/pull/42/merge", "GITHUB_HEAD_REF"),
        ("refs/tags/v1.0", "tag"),
        ("main", "refs/heads/"),
        ("refs/heads/", "refs/heads/"),
        ("", "not a branch ref"),
    ],
)
def test_refs_without_a_namespace_explain_themselves(ref: str, says: str) -> None:
    with pytest.raises(NamespaceError) as err:
        namespace_from_ref(ref)
    assert says in str(err.value)
    assert isinstance(err.value, BranchlineError)


def _pr_env(head: str, event: str = "pull_request") -> dict[str, str]:
    return {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_HEAD_REF": head,
        "GITHUB_BASE_REF": "main",
    }


def _ref_env(event: str, branch: str) -> dict[str, str]:
    return {"GITHUB_EVENT_NAME": event, "GITHUB_REF": f"refs/heads/{branch}"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (_pr_env("feature/x"), namespace_for_branch("feature/x")),
        (_pr_env("feature/x", "pull_request_target"), namespace_for_branch("feature/x")),
        (_pr_env("main"), namespace_for_branch("main")),  # a fork's main is not production
        (_ref_env("push", "main"), "prod"),
        (_ref_env("push", "feature/x"), namespace_for_branch("feature/x")),
        (_ref_env("workflow_dispatch", "main"), "prod"),
        (_ref_env("schedule", "main"), "prod"),
        (_ref_env("workflow_dispatch", "dev"), namespace_for_branch("dev")),
    ],
)
def test_namespace_from_ci_events(env: dict[str, str], expected: str) -> None:
    assert namespace_from_ci(env) == expected


def test_production_branch_is_configurable_in_ci() -> None:
    env = _ref_env("push", "trunk")
    assert namespace_from_ci(env, production_branch="trunk") == "prod"
    assert namespace_from_ci(env) == namespace_for_branch("trunk")


@PROPERTY
@given(branches, st.sampled_from(["pull_request", "pull_request_target"]))
def test_pull_requests_never_deploy_prod_and_match_pushes(head: str, event: str) -> None:
    ns = namespace_from_ci(_pr_env(head, event))
    assert not is_production(ns)
    push = _ref_env("push", head)
    if head != "main":
        assert namespace_from_ci(push) == ns, "a branch's push and its pull request share one namespace"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "GITHUB_EVENT_NAME"),
        ({"GITHUB_EVENT_NAME": ""}, "GITHUB_EVENT_NAME"),
        ({"GITHUB_EVENT_NAME": "pull_request"}, "GITHUB_HEAD_REF"),
        ({"GITHUB_EVENT_NAME": "pull_request", "GITHUB_HEAD_REF": ""}, "GITHUB_HEAD_REF"),
        ({"GITHUB_EVENT_NAME": "push"}, "GITHUB_REF"),
        ({"GITHUB_EVENT_NAME": "schedule"}, "GITHUB_REF"),
        ({"GITHUB_EVENT_NAME": "workflow_dispatch"}, "GITHUB_REF"),
    ],
)
def test_missing_ci_variable_is_named(env: dict[str, str], variable: str) -> None:
    with pytest.raises(CIEnvironmentError) as err:
        namespace_from_ci(env)
    assert err.value.variable == variable
    assert variable in str(err.value)


def test_unsupported_ci_event_lists_supported_ones() -> None:
    with pytest.raises(NamespaceError, match="'release'") as err:
        namespace_from_ci({"GITHUB_EVENT_NAME": "release", "GITHUB_REF": "refs/tags/v1"})
    assert "pull_request" in str(err.value) and "push" in str(err.value)


def test_push_of_a_tag_is_rejected() -> None:
    with pytest.raises(NamespaceError, match="tag"):
        namespace_from_ci({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/tags/v1"})


# ---------------------------------------------------------------- namespaces typed by hand


@pytest.mark.parametrize("ns", ["prod", "br-feature-x-217d2bf5", "user-alice", "br-x", "user-" + "a" * 27])
def test_valid_namespaces_pass_unchanged(ns: str) -> None:
    assert validate_namespace(ns) == ns


@pytest.mark.parametrize(
    ("ns", "says"),
    [
        ("", "empty"),
        ("Prod", "'P'"),
        ("br-Feature", "'F'"),
        ("br-feature/x", "'/'"),
        ("br-x;rm", "';'"),
        ("user-" + "a" * 28, "33 characters"),
        ("feature-x", "'prod'"),
        ("production", "'br-'"),
        ("br-", "empty part"),
        ("br--x", "empty part"),
        ("user-x-", "empty part"),
        ("prod ", "' '"),
        ("br-x\n", "'\\n'"),
    ],
)
def test_invalid_namespaces_say_what_is_wrong(ns: str, says: str) -> None:
    with pytest.raises(NamespaceError) as err:
        validate_namespace(ns)
    message = str(err.value)
    assert says in message
    assert "\n" not in err.value.message, "the message must stay on one line"
    assert err.value.hint


@PROPERTY
@given(st.text(max_size=40))
def test_validate_namespace_accepts_exactly_the_documented_shape(ns: str) -> None:
    ok = len(ns) <= 32 and NAMESPACE_OK.fullmatch(ns) is not None
    if ok:
        assert validate_namespace(ns) == ns
    else:
        with pytest.raises(NamespaceError):
            validate_namespace(ns)


@pytest.mark.parametrize("bad", [namespace_for_branch, namespace_for_user])
def test_empty_names_are_rejected(bad: object) -> None:
    with pytest.raises(NamespaceError, match="empty"):
        bad("")  # type: ignore[operator]
