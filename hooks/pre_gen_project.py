"""Validate every cookiecutter answer before any file of the project is written.

cookiecutter renders this file with Jinja and runs it inside the (still empty) project directory; a
non-zero exit makes cookiecutter delete that directory. A failure prints exactly one line on stderr,
`error: <field>: <what is wrong>; <what is allowed>`, and no traceback.

The validators are pure functions of the answers so that tests can import this file and call
`first_error` directly; only the block under `__main__` reads the rendered answers.
"""

from __future__ import annotations

import ipaddress
import json
import keyword
import re
import sys
from collections.abc import Callable, Mapping

Answers = Mapping[str, object]
Validator = Callable[[str, Answers], str | None]

PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
SLUG_MAX = 40
TEXT_MAX = 200
# Import names the project must not shadow besides the standard library: the platform itself and
# the libraries its flows import.
TAKEN_PACKAGES = frozenset(
    {"platform", "test", "branchline", "sklearn", "pandas", "numpy", "mlflow", "great_expectations", "boto3"}
)
# Namespace words a project name may not hold as a '-'-separated part (branchline.namespaces.limits
# RESERVED_PROJECT_SEGMENTS; a test keeps both equal): IAM grants by name prefix (`<project>-br-*`), so a
# project `foo-br-x` would put its production resources inside project `foo`'s branch patterns.
RESERVED_PROJECT_SEGMENTS = frozenset({"br", "prod", "user"})
# Built by concatenation: this file is itself a Jinja template.
TEMPLATE_SYNTAX = tuple("{" + mark for mark in ("{", "%", "#"))

SLUG_RE = re.compile(r"[a-z][a-z0-9-]*")
PACKAGE_RE = re.compile(r"[a-z_][a-z0-9_]*")
GITHUB_ORG_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
REGION_RE = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")
ACCOUNT_RE = re.compile(r"\d{12}")
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
TRACKING_SCHEMES_RE = re.compile(r"(https?://[^/\s]+.*|sqlite:///.+|file:.+|databricks(://[^\s]+)?)")
COMMIT = r"[0-9a-f]{40}"
# The platform pinned to one exact revision: a git commit, an exact version, an archive with its sha256,
# or (for use on this machine only) a local checkout. Branches, tags and ranges move: refused.
BRANCHLINE_PINNED = {
    "git commit": re.compile(rf"branchline\s*@\s*git\+(https|ssh|file)://[^\s@#]+(@[^\s@#]+)*@{COMMIT}(#subdirectory=\S+)?"),
    "exact version": re.compile(r"branchline\s*===?\s*[0-9][A-Za-z0-9.+!]*"),
    "archive with its sha256": re.compile(r"branchline\s*@\s*https://\S+#sha256=[0-9a-f]{64}"),
    "local checkout": re.compile(r"branchline\s*@\s*file://\S+"),
}
BRANCHLINE_ANY = re.compile(r"branchline(\s*@\s*[a-z+]+://\S+|\s*[<>=!~]=?.*)?")


def _shown(value: str) -> str:
    """The value quoted on one line, shortened: error messages must stay one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def check_one_line_text(field: str, value: str, *, required: bool) -> str | None:
    if required and not value.strip():
        return f"{field}: is empty; give a short text"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return f"{field}: contains a line break or control character; use a single line of text"
    if len(value) > TEXT_MAX:
        return f"{field}: is {len(value)} characters long; at most {TEXT_MAX} are allowed"
    return None


def check_project_name(value: str, _: Answers) -> str | None:
    return check_one_line_text("project_name", value, required=True)


def check_description(value: str, _: Answers) -> str | None:
    return check_one_line_text("description", value, required=False)


def check_author(value: str, _: Answers) -> str | None:
    return check_one_line_text("author", value, required=True)


def check_project(value: str, _: Answers) -> str | None:
    allowed = (
        f"use lowercase letters, digits and single hyphens, starting with a letter "
        f"([a-z][a-z0-9-]*), at most {SLUG_MAX} characters"
    )
    if not value:
        return f"project: is empty; {allowed}"
    if len(value) > SLUG_MAX:
        return f"project: {_shown(value)} is {len(value)} characters long; {allowed}"
    if not SLUG_RE.fullmatch(value):
        if value[0].isdigit():
            problem = "starts with a digit"
        elif any(ch.isspace() for ch in value):
            problem = "contains spaces"
        elif value != value.lower():
            problem = "contains upper case"
        else:
            problem = "contains characters other than a-z, 0-9 and '-'"
        return f"project: {_shown(value)} {problem}; {allowed}"
    if value.endswith("-") or "--" in value:
        return f"project: {_shown(value)} ends with or repeats '-'; {allowed}"
    reserved = sorted(set(value.split("-")) & RESERVED_PROJECT_SEGMENTS)
    if reserved:
        return (
            f"project: {_shown(value)} contains the reserved namespace word {', '.join(map(repr, reserved))} "
            "as a '-'-separated part (resource names are <project>-<namespace>-..., and IAM grants by prefix); "
            "choose a name without 'br', 'prod' or 'user' parts"
        )
    return None


def check_package(value: str, _: Answers) -> str | None:
    allowed = "use a lowercase Python identifier ([a-z_][a-z0-9_]*) that is no keyword and no standard module"
    if not PACKAGE_RE.fullmatch(value) or not value.isidentifier():
        return f"package: {_shown(value)} is not a lowercase Python identifier; {allowed}"
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return f"package: {_shown(value)} is a Python keyword; {allowed}"
    if value in sys.stdlib_module_names or value in TAKEN_PACKAGES:
        return f"package: {_shown(value)} would shadow the module of that name; {allowed}"
    return None


def check_github_org(value: str, _: Answers) -> str | None:
    if not GITHUB_ORG_RE.fullmatch(value):
        return (
            f"github_org: {_shown(value)} is not a GitHub organisation or user name; "
            "use 1-39 letters, digits or single hyphens, not starting or ending with '-'"
        )
    return None


def check_aws_region(value: str, _: Answers) -> str | None:
    if not REGION_RE.fullmatch(value):
        return f"aws_region: {_shown(value)} is not an AWS region; use a region code like eu-west-1 or us-gov-west-1"
    return None


def check_aws_account_id(value: str, _: Answers) -> str | None:
    if not ACCOUNT_RE.fullmatch(value):
        return f"aws_account_id: {_shown(value)} is not 12 digits; use the 12-digit AWS account id"
    return None


def check_aws_production_account_id(value: str, _: Answers) -> str | None:
    if not ACCOUNT_RE.fullmatch(value):
        return (
            f"aws_production_account_id: {_shown(value)} is not 12 digits; use the 12-digit id of production's "
            "AWS account (the aws_account_id again for single-account mode)"
        )
    return None


def check_artifact_bucket(value: str, answers: Answers) -> str | None:
    allowed = (
        "use 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit "
        "(S3 bucket naming rules)"
    )
    problem = None
    if not BUCKET_RE.fullmatch(value):
        problem = "is not a valid S3 bucket name"
    elif ".." in value or ".-" in value or "-." in value:
        problem = "has adjacent '.'/'-' characters"
    elif value.startswith(BUCKET_RESERVED_PREFIXES) or value.endswith(BUCKET_RESERVED_SUFFIXES):
        problem = "uses a prefix or suffix that S3 reserves"
    else:
        try:
            ipaddress.IPv4Address(value)
            problem = "is formatted as an IP address"
        except ValueError:
            pass
    separate = answers.get("aws_production_account_id") != answers.get("aws_account_id")
    if not problem and separate and len(value) > 63 - len("-prod"):  # production's bucket: <artifact_bucket>-prod
        problem = "is too long to name production's bucket after it (<artifact_bucket>-prod)"
        allowed = "use at most 58 characters when production has an account of its own"
    return f"artifact_bucket: {_shown(value)} {problem}; {allowed}" if problem else None


def check_mlflow_tracking_uri(value: str, _: Answers) -> str | None:
    if value == "" or (TRACKING_SCHEMES_RE.fullmatch(value) and not any(ch.isspace() for ch in value)):
        return None
    return (
        f"mlflow_tracking_uri: {_shown(value)} has an unsupported scheme; leave it empty (local sqlite) "
        "or use http(s)://host, sqlite:///path, file:path or databricks"
    )


def check_python_version(value: str, _: Answers) -> str | None:
    if value not in PYTHON_VERSIONS:
        return f"python_version: {_shown(value)} is not supported; use one of {', '.join(PYTHON_VERSIONS)}"
    return None


def check_branchline_source(value: str, _: Answers) -> str | None:
    pinned = "use 'branchline @ git+https://...@<40-hex commit>#subdirectory=platform' or 'branchline==X.Y.Z'"
    if value != value.strip() or not BRANCHLINE_ANY.fullmatch(value) or "[" in value.split("@")[0]:
        return (
            f"branchline_source: {_shown(value)} is not a requirement for branchline; {pinned}, "
            "or 'branchline @ file:///path/to/platform' on this machine (no extras: the template adds them)"
        )
    if not any(pattern.fullmatch(value) for pattern in BRANCHLINE_PINNED.values()):
        return (
            f"branchline_source: {_shown(value)} is not pinned to an exact revision (a branch, tag or range "
            f"moves under CI's credentials); {pinned}"
        )
    return None


def warnings(answers: Answers) -> list[str]:
    """Answers that are valid but deserve a word: a local platform checkout cannot reach CI."""
    source = str(answers.get("branchline_source", ""))
    if BRANCHLINE_PINNED["local checkout"].fullmatch(source):
        return [
            "branchline_source: a local checkout pins the platform on this machine only; CI cannot install "
            "it, so pin a commit before pushing (README.md, 'Supply chain')"
        ]
    return []


VALIDATORS: dict[str, Validator] = {
    "project_name": check_project_name,
    "project": check_project,
    "package": check_package,
    "description": check_description,
    "author": check_author,
    "github_org": check_github_org,
    "aws_region": check_aws_region,
    "aws_account_id": check_aws_account_id,
    "aws_production_account_id": check_aws_production_account_id,
    "artifact_bucket": check_artifact_bucket,
    "mlflow_tracking_uri": check_mlflow_tracking_uri,
    "python_version": check_python_version,
    "branchline_source": check_branchline_source,
}


def first_error(answers: Answers) -> str | None:
    """The first problem in prompt order, as `<field>: <what is wrong>; <what is allowed>`, or None."""
    for field, validate in VALIDATORS.items():
        value = answers.get(field)
        if not isinstance(value, str):
            return f"{field}: is missing or not text; answer it with a string"
        if any(marker in value for marker in TEMPLATE_SYNTAX):
            return f"{field}: contains template syntax ({', '.join(TEMPLATE_SYNTAX)}); remove it"
        problem = validate(value, answers)
        if problem:
            return problem
    return None


def main(answers: Answers) -> int:
    problem = first_error(answers)
    if problem is None:
        for warning in warnings(answers):
            print(f"warning: {warning}", file=sys.stderr)
        return 0
    print(f"error: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    # tojson escapes single quotes (not double ones) and never ends in a backslash: a raw single-quoted
    # literal holds it safely.
    sys.exit(main(json.loads(r'{{ cookiecutter | tojson }}')))  # fmt: skip
