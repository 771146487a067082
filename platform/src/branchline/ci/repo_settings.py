"""Is production reachable only from the production branch? Read the repository's settings and judge them.

The release role trusts the OIDC subject `repo:ORG/REPO:environment:production:ref:refs/heads/main`, so
only a job in the `production` environment on `main` gets production credentials. Whether the environment
itself is limited to `main` and needs a reviewer is a repository setting that no workflow file can enforce
(GitHub creates an unprotected environment the first time a workflow names it). `branchline infra check`
and `branchline ci release` (before it deploys) therefore read those settings through the REST API:

| what | endpoint | the job token (`GITHUB_TOKEN`) |
| --- | --- | --- |
| environment, its protection rules | `GET /repos/{r}/environments/production` | `actions: read` |
| its deployment branch rules | `GET …/environments/production/deployment-branch-policies` | `actions: read` |
| the OIDC subject customisation | `GET /repos/{r}/actions/oidc/customization/sub` | may be refused: then a note |
| is `main` protected | `GET /repos/{r}/branches/{b}` (`protected`) | `contents: read` |
| rulesets on `main` | `GET /repos/{r}/rules/branches/{b}` | `metadata: read` |
| may Actions approve pull requests | `GET /repos/{r}/actions/permissions/workflow` | refused (administration): a note |

Why the last one: the `ci` workflow's `pr` job runs a pull request's code with a token that may write pull
requests (for its one comment). Where GitHub Actions may approve pull requests, that code can approve its own
pull request as `github-actions[bot]`, and the approval counts towards the review `main` requires.

`judge` is pure (facts in, findings out); `read_settings` does the requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from branchline.ci.github import GitHub

ENVIRONMENT = "production"
OIDC_CLAIM_KEYS = ["repo", "context", "ref"]
SETTINGS_ACCESS = ("read the repository's environment settings", "actions: read", "")
_SETTINGS = f"Settings → Environments → {ENVIRONMENT}"


@dataclass(frozen=True)
class Fetched:
    """One GET: its HTTP status (200, or 403/404 when not readable / not there) and its JSON body."""

    status: int
    body: Any = None


@dataclass(frozen=True)
class RepoSettings:
    repository: str
    branch: str
    environment: Fetched
    branch_policies: Fetched | None  # only fetched when the environment has custom branch rules
    oidc: Fetched
    branch_info: Fetched
    rules: Fetched
    workflow_permissions: Fetched = Fetched(404)


@dataclass(frozen=True)
class Finding:
    message: str
    hint: str = ""


@dataclass
class SettingsCheck:
    """What checking the repository's settings found (the gate's decision is `gate.Verdict`)."""

    problems: list[Finding] = field(default_factory=list)  # production is not limited to the branch: refuse
    notes: list[Finding] = field(default_factory=list)  # worth knowing; not verifiable or not decisive
    passed: list[str] = field(default_factory=list)  # what was verified

    @property
    def ok(self) -> bool:
        return not self.problems


def expected_subjects(repository: str, branch: str) -> dict[str, str]:
    """The OIDC subjects the roles trust, with the repository's subject customised to OIDC_CLAIM_KEYS."""
    return {
        "release": f"repo:{repository}:environment:{ENVIRONMENT}:ref:refs/heads/{branch}",
        "ci": f"repo:{repository}:pull_request:ref:refs/pull/*/merge",
        "prune": f"repo:{repository}:ref:refs/heads/{branch}:ref:refs/heads/{branch}",
    }


# ----------------------------------------------------------------------------------------------- judging
def _judge_environment(settings: RepoSettings, verdict: SettingsCheck) -> None:
    env, branch = settings.environment, settings.branch
    if env.status == 403:
        verdict.problems.append(Finding(
            f"cannot read the GitHub environment {ENVIRONMENT!r} (HTTP 403)",
            "give the job `permissions: actions: read`, or run `branchline infra check` with a token that can "
            "read the repository's environments"))
        return
    if env.status == 404:
        verdict.problems.append(Finding(
            f"the GitHub environment {ENVIRONMENT!r} does not exist: the first workflow run that names it creates "
            "it without any protection",
            f"create it ({_SETTINGS}) with deployment branch rule {branch!r} and required reviewers"))
        return
    body = env.body or {}
    policy = body.get("deployment_branch_policy")
    if not policy:
        verdict.problems.append(Finding(
            f"environment {ENVIRONMENT!r} can be deployed from any branch (no deployment branch policy)",
            f"{_SETTINGS} → Deployment branches and tags: 'Selected branches and tags' with the single rule "
            f"{branch!r}"))
    elif policy.get("protected_branches"):
        verdict.problems.append(Finding(
            f"environment {ENVIRONMENT!r} admits every protected branch, not only {branch!r}",
            f"{_SETTINGS} → Deployment branches and tags: 'Selected branches and tags' with the single rule "
            f"{branch!r}"))
    else:
        _judge_branch_rules(settings, verdict)
    _judge_reviewers(body, verdict)


def _judge_branch_rules(settings: RepoSettings, verdict: SettingsCheck) -> None:
    fetched, branch = settings.branch_policies, settings.branch
    if fetched is None or fetched.status != 200:
        status = fetched.status if fetched else "not fetched"
        verdict.problems.append(Finding(
            f"cannot read the deployment branch rules of environment {ENVIRONMENT!r} ({status})",
            "give the job `permissions: actions: read`"))
        return
    rules = [(str(r.get("name", "")), str(r.get("type") or "branch")) for r in fetched.body.get("branch_policies", [])]
    for name, kind in rules:
        if (name, kind) != (branch, "branch"):
            verdict.problems.append(Finding(
                f"environment {ENVIRONMENT!r} also admits the {kind} rule {name!r}: only {branch!r} may deploy",
                f"{_SETTINGS} → Deployment branches and tags: delete the rule {name!r}"))
    if (branch, "branch") not in rules:
        verdict.problems.append(Finding(
            f"no deployment branch rule of environment {ENVIRONMENT!r} is {branch!r}",
            f"{_SETTINGS} → Deployment branches and tags: add the branch rule {branch!r}"))
    elif len(rules) == 1:
        verdict.passed.append(f"environment {ENVIRONMENT!r} is limited to the branch {branch!r}")


def _judge_reviewers(body: dict[str, Any], verdict: SettingsCheck) -> None:
    rules = body.get("protection_rules") or []
    reviewers = [r for r in rules if r.get("type") == "required_reviewers" and r.get("reviewers")]
    if not reviewers:
        verdict.problems.append(Finding(
            f"environment {ENVIRONMENT!r} has no required reviewers: every push to the production branch deploys "
            "production without a person approving it",
            f"{_SETTINGS} → Required reviewers: add at least one person or team"))
        return
    count = sum(len(r["reviewers"]) for r in reviewers)
    verdict.passed.append(f"environment {ENVIRONMENT!r} requires a review ({count} reviewer(s) or team(s))")
    if not any(r.get("prevent_self_review") for r in reviewers):
        verdict.notes.append(Finding(f"reviewers of {ENVIRONMENT!r} may approve their own runs",
                                     f"{_SETTINGS} → Required reviewers: 'Prevent self-review'"))
    if body.get("can_admins_bypass", True):
        verdict.notes.append(Finding(f"administrators may bypass the protection rules of {ENVIRONMENT!r}",
                                     f"{_SETTINGS}: untick 'Allow administrators to bypass configured protection "
                                     "rules'"))


def _unreadable(fetched: Fetched, verdict: SettingsCheck, what: str, meaning: str, hint: str) -> bool:
    """A setting the token may not read is a note saying what that leaves open, never a pass."""
    if fetched.status == 200:
        return False
    verdict.notes.append(Finding(f"could not read {what} (HTTP {fetched.status}); {meaning}", hint))
    return True


def _judge_oidc(settings: RepoSettings, verdict: SettingsCheck) -> None:
    oidc = settings.oidc
    put = (f"PUT /repos/{settings.repository}/actions/oidc/customization/sub with "
           f'{{"use_default": false, "include_claim_keys": ["repo", "context", "ref"]}}')
    if _unreadable(oidc, verdict, "the repository's OIDC subject customisation",
                   "the roles trust only the customised subject, so a job holding their credentials shows it is in "
                   "place",
                   f"a repository admin can check it: GET /repos/{settings.repository}/actions/oidc/customization/sub"):
        return
    body = oidc.body or {}
    keys = body.get("include_claim_keys")
    if body.get("use_default", True) or keys != OIDC_CLAIM_KEYS:
        verdict.problems.append(Finding(
            f"the repository's OIDC subject is not customised to {OIDC_CLAIM_KEYS} (use_default="
            f"{body.get('use_default')}, include_claim_keys={keys}): the roles' trust, which includes the ref, "
            "accepts no token", put))
    else:
        verdict.passed.append(f"OIDC subjects carry the ref (include_claim_keys {OIDC_CLAIM_KEYS})")


def _judge_branch(settings: RepoSettings, verdict: SettingsCheck) -> None:
    info, rules, branch = settings.branch_info, settings.rules, settings.branch
    protected = info.status == 200 and bool((info.body or {}).get("protected"))
    rule_types = {str(r.get("type")) for r in rules.body or []} if rules.status == 200 else set()
    if protected or "pull_request" in rule_types:
        how = "branch protection" if protected else "a ruleset requiring pull requests"
        verdict.passed.append(f"branch {branch!r} is protected ({how})")
        return
    if info.status != 200 and rules.status != 200:
        verdict.notes.append(Finding(f"could not read whether branch {branch!r} is protected "
                                     f"(HTTP {info.status}, {rules.status})",
                                     "give the job `permissions: contents: read`"))
        return
    verdict.problems.append(Finding(
        f"branch {branch!r} is neither protected nor covered by a ruleset that requires pull requests: anyone "
        "with write access can push to it, and every push to it is a production release",
        f"Settings → Rules → Rulesets: target {branch!r}, require a pull request (with approvals) and status "
        "checks, block force pushes and deletion"))


def _judge_workflow_approvals(settings: RepoSettings, verdict: SettingsCheck) -> None:
    fetched, where = settings.workflow_permissions, "Settings → Actions → General → Workflow permissions"
    if _unreadable(fetched, verdict, "whether GitHub Actions may approve pull requests",
                   "if it may, a pull request's code can approve itself",
                   f"a repository admin can check it ({where}), or run `branchline infra check` with an admin's token"):
        return
    if (fetched.body or {}).get("can_approve_pull_request_reviews"):
        verdict.problems.append(Finding(
            "GitHub Actions may approve pull requests: a pull request's code, which the ci workflow runs with a "
            "token that may write pull requests, can approve itself and so reach the production branch unreviewed",
            f"{where}: untick 'Allow GitHub Actions to create and approve pull requests'"))
    else:
        verdict.passed.append("GitHub Actions may not approve pull requests")


def judge(settings: RepoSettings) -> SettingsCheck:
    """Everything that keeps production reachable only from the production branch, with a reviewer."""
    verdict = SettingsCheck()
    _judge_environment(settings, verdict)
    _judge_oidc(settings, verdict)
    _judge_branch(settings, verdict)
    _judge_workflow_approvals(settings, verdict)
    return verdict


# ----------------------------------------------------------------------------------------------- reading
def read_settings(github: GitHub, branch: str) -> RepoSettings:
    """The facts `judge` needs, one GET each (403/404 are facts too, never exceptions)."""
    repo, env = github.repository, f"/repos/{github.repository}/environments/{ENVIRONMENT}"
    environment = Fetched(*github.get_if_readable(env))
    policy = (environment.body or {}).get("deployment_branch_policy") or {}
    policies = None
    if environment.status == 200 and policy.get("custom_branch_policies"):
        policies = Fetched(*github.get_if_readable(f"{env}/deployment-branch-policies?per_page=100"))
    quoted = quote(branch, safe="")
    return RepoSettings(
        repository=repo,
        branch=branch,
        environment=environment,
        branch_policies=policies,
        oidc=Fetched(*github.get_if_readable(f"/repos/{repo}/actions/oidc/customization/sub")),
        branch_info=Fetched(*github.get_if_readable(f"/repos/{repo}/branches/{quoted}")),
        rules=Fetched(*github.get_if_readable(f"/repos/{repo}/rules/branches/{quoted}?per_page=100")),
        workflow_permissions=Fetched(*github.get_if_readable(f"/repos/{repo}/actions/permissions/workflow")),
    )


def check_production(api_url: str, token: str, repository: str, branch: str) -> SettingsCheck:
    """Read the repository's settings and judge them."""
    return judge(read_settings(GitHub(api_url, token, repository, access=SETTINGS_ACCESS), branch))


def refusal_message(verdict: SettingsCheck, branch: str) -> str:
    """One line per problem, under a first line that says what is refused."""
    lines = [f"production is not limited to {branch!r} with required reviewers ({len(verdict.problems)} "
             "problem(s)):"]
    lines += [f"  - {p.message}" + (f" (fix: {p.hint})" if p.hint else "") for p in verdict.problems]
    return "\n".join(lines)
