"""AWS Batch's retry rules, as documented (pure): what happens after a job attempt fails.

Used by the test bed's Batch shim (moto runs no retries at all) and by the compiler tests, which check the
retry strategies we write against these rules. From the AWS Batch API reference (RetryStrategy,
EvaluateOnExit): at most `attempts` attempts in all; the first `evaluateOnExit` entry whose conditions all
match decides (RETRY or EXIT); a failure that matches no entry is *retried*. Patterns are globs that may end
with `*`. A field the attempt does not have (a host failure has no exit code) matches no `onExitCode`;
an absent reason or status reason is the empty string, so `*` matches it (AWS's own example uses
`{"onReason": "*", "action": "EXIT"}` as a catch-all).
"""

from __future__ import annotations

import fnmatch
from typing import Any

RETRY, EXIT = "RETRY", "EXIT"


def _matches(pattern: str | None, value: Any) -> bool:
    if pattern is None:
        return True
    if value is None:
        return False
    return fnmatch.fnmatchcase(str(value), pattern)


def decide(strategy: dict[str, Any] | None, failure: dict[str, Any], attempt: int) -> str:
    """RETRY or EXIT after failed attempt number `attempt` (1-based) with `failure` ({exitCode, reason,
    statusReason}, each optional)."""
    strategy = strategy or {}
    if attempt >= int(strategy.get("attempts") or 1):
        return EXIT
    seen = {
        "exitCode": failure.get("exitCode"),
        "reason": failure.get("reason") or "",
        "statusReason": failure.get("statusReason") or "",
    }
    for rule in strategy.get("evaluateOnExit") or []:
        if (_matches(rule.get("onExitCode"), seen["exitCode"]) and _matches(rule.get("onReason"), seen["reason"])
                and _matches(rule.get("onStatusReason"), seen["statusReason"])):
            return str(rule["action"]).upper()
    return RETRY


def attempts_run(strategy: dict[str, Any], failure: dict[str, Any]) -> int:
    """How many attempts Batch runs when every attempt fails with `failure`."""
    attempt = 1
    while decide(strategy, failure, attempt) == RETRY:
        attempt += 1
    return attempt
