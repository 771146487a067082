"""Text primitives behind every derived name: fold, slugify, hash, fit to a service's rule.

The one idea: a name is a *readable* rendering (which may lose information: case, punctuation,
non-Latin scripts, length) plus, whenever anything was lost, a short hash of the *raw* input,
which keeps distinct inputs distinct. A name without a hash never ends like a hash
(`-` + 8 hex digits), so plain and hashed names can never be mistaken for each other.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence

from branchline.namespaces.limits import HASH_LENGTH, NameRule

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_HASH_TAIL = re.compile(rf"(?:^|-)[0-9a-f]{{{HASH_LENGTH}}}$")
_EDGE = "-_."


def short_hash(text: str) -> str:
    """First HASH_LENGTH hex digits of sha256 over the exact input (lone surrogates included)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]


def hash_parts(parts: Sequence[str]) -> str:
    """Hash of several strings, encoded unambiguously (`("a-b", "c")` and `("a", "b-c")` differ)."""
    return short_hash(json.dumps(list(parts)))


def ascii_fold(text: str) -> str:
    """Compatibility-decompose, keep ASCII: `é`→`e`, the `ﬁ` ligature→`fi`, full-width letters→ASCII."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def slugify(text: str) -> str:
    """Lowercase `[a-z0-9]` words joined by single `-`: `Feature/Ünïcode $(x)` → `feature-unicode-x`."""
    return _NOT_SLUG.sub("-", ascii_fold(text.casefold()).lower()).strip("-")


def looks_hashed(name: str) -> bool:
    """True when `name` ends the way a hashed name ends; such names must then carry a real hash."""
    return _HASH_TAIL.search(name) is not None


def cut(text: str, length: int) -> str:
    """The first `length` characters, without separators dangling at the cut."""
    return text[: max(length, 0)].rstrip(_EDGE)


def with_hash(readable: str, raw: str, max_length: int) -> str:
    """`readable` shortened to fit, then `-<hash of raw>`; just the hash when nothing readable is left."""
    head = cut(readable, max_length - HASH_LENGTH - 1)
    digest = short_hash(raw)
    return f"{head}-{digest}" if head else digest


def clean_part(part: str, rule: NameRule) -> str:
    """`part` with every run of characters the service rejects turned into one `-`."""
    return rule.disallowed.sub("-", ascii_fold(part)).strip("-")


def shrink(parts: Sequence[str], budget: int, floors: Sequence[int] = ()) -> list[str]:
    """Cut the longest parts first, so each keeps a readable share of `budget` characters in total.

    `floors` (one per part) are lengths a part is never cut below, when they fit the budget at all:
    the project and the namespace's kind, which IAM patterns (`<project>-br-*`) rely on.
    """
    lengths = [len(p) for p in parts]
    if sum(lengths) <= budget:
        return list(parts)
    least = list(floors) if floors and sum(floors) <= budget else [0] * len(parts)

    def kept(cap: int) -> list[int]:
        return [max(min(n, cap), floor) for n, floor in zip(lengths, least, strict=True)]

    cap = 0
    while sum(kept(cap + 1)) <= budget:
        cap += 1
    spare = budget - sum(kept(cap))
    out = []
    for part, n, keep in zip(parts, lengths, kept(cap), strict=True):
        if n > keep and spare > 0:
            keep, spare = keep + 1, spare - 1
        out.append(cut(part, keep))
    return out


def fit_name(fixed: Sequence[str], free: Sequence[str], rule: NameRule) -> str:
    """Join `fixed` parts (already valid: project, namespace) and `free` ones (flow, step, ids) with `-`.

    The plain join is kept when it is valid as is and cannot be confused with another input:
    free parts need no cleaning, hold no `-` (the namespace has a variable number of them, so a
    `-` after it would make the split ambiguous) unless a single part is the whole name, the
    name fits, and it does not end like a hash. Otherwise: each part cleaned, the longest cut
    first (never the project, nor the namespace's first word), then `-` + a hash of all the raw parts.
    """
    cleaned = [clean_part(p, rule) for p in free]
    plain = "-".join([*fixed, *cleaned])
    unambiguous = (not fixed and len(free) == 1) or not any("-" in p for p in free)
    if (
        cleaned == list(free)
        and unambiguous
        and rule.accepts(plain)
        and not looks_hashed(plain)
    ):
        return plain
    # The project stays whole and each further fixed part (the namespace) keeps its first word (`br`, `prod`).
    floors = [len(p) if i == 0 else len(p.split("-", 1)[0]) for i, p in enumerate(fixed)] + [0] * len(cleaned)
    kept = [(p, floor) for p, floor in zip((*fixed, *cleaned), floors, strict=True) if p]
    parts = [p for p, _ in kept]
    budget = rule.max_length - HASH_LENGTH - 1 - max(len(parts) - 1, 0)
    shrunk = shrink(parts, budget, [floor for _, floor in kept])
    head = "-".join(p for p in shrunk if p).lstrip(_EDGE)  # Batch: alphanumeric first
    digest = hash_parts([*fixed, *free])
    return f"{head}-{digest}" if head else digest
