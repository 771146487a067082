"""The service limits every derived name respects, in one table.

Sources: the botocore service models (`min`/`max`/`pattern` of each shape) and MLflow's
`mlflow.utils.validation` constants. Where a service accepts more than we need (Step Functions
takes some non-ASCII names, but CloudWatch Logs then breaks), the rule below is the safe subset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

HASH_LENGTH = 8
"""Hex characters of sha256 appended to names: 32 bits, enough to separate names sharing a readable head."""

NAMESPACE_MAX_LENGTH = 32
"""Ours, not a service's: short enough to leave room for project and flow in 64-character names."""

PROJECT_MAX_LENGTH = 40

PRODUCTION_NAMESPACE = "prod"
BRANCH_PREFIX = "br-"
USER_PREFIX = "user-"
LIVE_ALIAS = "live"

RESERVED_PROJECT_SEGMENTS = frozenset({PRODUCTION_NAMESPACE, BRANCH_PREFIX.rstrip("-"), USER_PREFIX.rstrip("-")})
"""Words a project name may not hold as a `-`-separated part. Every resource name is
`<project>-<namespace>-…` and IAM grants by prefix (`<project>-br-*`): a project named `foo-br-x` would put
its production state machine `foo-br-x-prod-…` inside project `foo`'s branch patterns, and a project
`foo-prod` its branch resources inside `foo`'s production ones. Without these words in project names, the
first `br`/`prod`/`user` part of any name is where the namespace starts."""


@dataclass(frozen=True)
class NameRule:
    """How long a name may be and which characters it may hold, for one kind of AWS resource.

    Names are ASCII letters, digits and `extra_chars`, and start with a letter or digit
    (Batch requires it for job names; we keep it everywhere for uniformity).
    """

    service: str
    max_length: int
    extra_chars: str

    @cached_property
    def disallowed(self) -> re.Pattern[str]:
        """Runs of characters this service rejects."""
        return re.compile(f"[^A-Za-z0-9{re.escape(self.extra_chars)}]+")

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """A whole valid name."""
        return re.compile(f"[A-Za-z0-9][A-Za-z0-9{re.escape(self.extra_chars)}]{{0,{self.max_length - 1}}}")

    def accepts(self, name: str) -> bool:
        return self.pattern.fullmatch(name) is not None


STEP_FUNCTIONS = NameRule("Step Functions state machine, alias, execution", 80, "_-")
BATCH = NameRule("Batch job definition, job", 128, "_-")
SCHEDULER = NameRule("EventBridge rule, EventBridge Scheduler schedule", 64, "_.-")

NAME_RULES: tuple[NameRule, ...] = (STEP_FUNCTIONS, BATCH, SCHEDULER)

AWS_TAG_KEY_MAX_LENGTH = 128
AWS_TAG_VALUE_MAX_LENGTH = 256
AWS_TAG_VALUE_EXTRA_CHARS = "_.:/=+-@"
"""Besides Unicode letters, digits and spaces: the characters AWS documents for tag values."""

S3_KEY_MAX_BYTES = 1024
MLFLOW_EXPERIMENT_MAX_LENGTH = 500
MLFLOW_TAG_KEY_MAX_LENGTH = 250
MLFLOW_TAG_VALUE_MAX_LENGTH = 8000
"""MLflow silently truncates longer run tag values; we shorten them ourselves and keep a hash."""
