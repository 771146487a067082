"""One writer per namespace: an expiring lease in the artifact bucket, taken and kept with S3 conditional writes.

Every write to a namespace (deploy, teardown, rollback, and so prune) runs inside `namespace_lock`. The lock is
one object, `<bucket>/branchline/<project>/<namespace>/.lock.json`, inside the namespace's own prefix, so the
roles that may write a namespace's data are the ones that may take its lock (a branch identity cannot take
`prod`'s), and it needs no table of its own:

- take: `PutObject` with `If-None-Match: *` (only if no lock object exists);
- take over: `PutObject` with `If-Match: <etag>` of a lock that is released or whose lease has expired, so of
  two deployers that both saw it expire exactly one wins;
- renew (a heartbeat thread, every third of the lease) and release: `PutObject` with `If-Match: <our etag>`.
  A release writes a *released* record rather than deleting the object (the release role may not delete under
  `prod/`), and that record keeps the order key of the last finished deploy; a teardown deletes it, with
  `If-Match`, as its very last call.

Expiry is judged on S3's clock (the object's `LastModified` against the `Date` of the answer that read it), so
runners with skewed clocks agree. A killed job's lease expires and the next writer takes over; a holder whose
renewal fails has lost the lease and stops before its next call (`LockLost`).

Deploys also carry an *order key* (in CI, the workflow run number): a deploy whose key is lower than that of the
last deploy that finished in the namespace is superseded and changes nothing, so two racing deploys converge
on the newer commit whichever of them gets the lock first.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from branchline.aws.session import ClientFactory
from branchline.config import Config
from branchline.errors import BranchlineError, ConfigError
from branchline.namespaces import Names

LOCK_NAME = ".lock.json"
DEFAULT_LEASE_S = 300.0
DEFAULT_WAIT_S = 900.0
POLL_S = (1.0, 2.0, 3.0, 5.0)
_CONFLICT = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class NamespaceLocked(BranchlineError):
    """Another writer holds the namespace's lock and did not let go in time."""


class LockLost(BranchlineError):
    """Our lease expired and another writer took the namespace over: stop writing."""


class Superseded(BranchlineError):
    """A newer deploy already finished in this namespace; this older one changes nothing."""

    exit_code = 0


@dataclass(frozen=True)
class LockTiming:
    """`[tool.branchline.aws] lock_lease_seconds` / `lock_wait_seconds`."""

    lease_s: float = DEFAULT_LEASE_S
    wait_s: float = DEFAULT_WAIT_S


@dataclass(frozen=True)
class Holder:
    """Who writes: shown to whoever waits (`run 4242 of commit 1a2b3c4 (deploy)`)."""

    operation: str
    run: str = ""
    commit: str = ""
    order: int | None = None
    """Deploys only: a higher key is a newer deploy (the CI run number); None: always proceeds."""

    def describe(self) -> str:
        who = f"run {self.run}" if self.run else "a process"
        return f"{who} of commit {self.commit[:12] or 'unknown'} ({self.operation})"


@dataclass(frozen=True)
class LockRecord:
    """The lock object's JSON body; `token` makes every body (and so every ETag) unique."""

    namespace: str
    holder: Holder
    token: str
    lease_s: float
    taken_at: str
    released: bool = False
    last_order: int | None = None
    """The order key of the last deploy that finished here (kept across releases and take-overs)."""
    last_commit: str = ""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> LockRecord:
        data = json.loads(raw)
        holder = Holder(**{k: v for k, v in (data.get("holder") or {}).items() if k in Holder.__dataclass_fields__})
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "holder"}
        return cls(holder=holder, **known)


@dataclass(frozen=True)
class Observed:
    """A lock object as read: its record, ETag, and whether its lease is over on S3's clock."""

    record: LockRecord
    etag: str
    expired: bool
    age_s: float


def lock_key(names: Names) -> str:
    return f"{names.s3_prefix()}/{LOCK_NAME}"


def lock_timing(config: Config) -> LockTiming:
    values = {}
    for key, name in (("lease_s", "lock_lease_seconds"), ("wait_s", "lock_wait_seconds")):
        value = config.get(f"aws.{name}")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"tool.branchline.aws.{name} must be a positive number of seconds, not {value!r}",
                              hint=f"e.g. {name} = {int(getattr(LockTiming(), key))}")
        values[key] = float(value)
    return LockTiming(**values)


def holder_from_env(operation: str, commit: str | None = None, env: dict[str, str] | None = None) -> Holder:
    """The holder of a CI job (`GITHUB_RUN_ID`, `GITHUB_SHA`, `GITHUB_RUN_NUMBER`), or of this host and process."""
    env = dict(os.environ) if env is None else env
    run = env.get("GITHUB_RUN_ID", "")
    if run and env.get("GITHUB_REPOSITORY"):
        run = f"{run} of {env['GITHUB_REPOSITORY']}"
    number = env.get("GITHUB_RUN_NUMBER", "")
    order = int(number) if operation == "deploy" and number.isdigit() else None
    return Holder(operation, run or f"pid {os.getpid()} on {socket.gethostname()}",
                  commit or env.get("GITHUB_SHA", ""), order)


def _code(exc: Exception) -> str:
    error = getattr(exc, "response", {}) or {}
    code = str(error.get("Error", {}).get("Code", ""))
    return code or str(error.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _server_time(response: dict[str, Any]) -> datetime:
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(date) if date else datetime.now(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Lease:
    """A lock we hold; `check()` raises `LockLost` once a renewal found it taken over."""

    s3: Any
    bucket: str
    key: str
    record: LockRecord
    etag: str
    lost: str = ""
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def check(self) -> None:
        """Before each write: the lock object must still be ours (one HEAD; the heartbeat may not have run yet)."""
        with self._mutex:
            if not self.lost:
                try:
                    etag = self.s3.head_object(Bucket=self.bucket, Key=self.key)["ETag"]
                except Exception as exc:
                    if _code(exc) not in _MISSING:
                        raise
                    etag = ""
                if etag != self.etag:
                    self.lost = "its lock object was replaced" if etag else "its lock object was deleted"
        if self.lost:
            raise LockLost(f"lost the lock of namespace {self.record.namespace}: {self.lost}",
                           hint="another writer took the namespace over after our lease expired; re-run to converge")

    def _write(self, record: LockRecord) -> bool:
        """Conditional write over our own ETag; False when someone else's record is there now."""
        with self._mutex:
            if self.lost:
                return False
            try:
                put = self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=record.to_json(), IfMatch=self.etag,
                                         ContentType="application/json")
            except Exception as exc:
                if _code(exc) in _CONFLICT | _MISSING:
                    self.lost = f"its lock object changed under us ({_code(exc)})"
                    return False
                raise
            self.record, self.etag = record, put["ETag"]
            return True

    def renew(self) -> bool:
        return self._write(replace(self.record, taken_at=_now()))

    def release(self, *, finished_order: bool = False) -> bool:
        """Write the released record (keeping the order key of the deploy that just finished)."""
        last = self.record.holder.order if finished_order and self.record.holder.order is not None else None
        record = replace(self.record, released=True, taken_at=_now())
        if last is not None:
            record = replace(record, last_order=last, last_commit=self.record.holder.commit)
        return self._write(record)

    def delete(self) -> bool:
        """Remove the lock object (the namespace is gone): conditional on our ETag."""
        with self._mutex:
            if self.lost:
                return False
            try:
                self.s3.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
            except Exception as exc:
                if _code(exc) in _CONFLICT | _MISSING:
                    self.lost = f"its lock object changed under us ({_code(exc)})"
                    return False
                raise
            self.lost = "released (deleted)"
            return True


def read_lock(s3: Any, bucket: str, key: str) -> Observed | None:
    """The lock object, or None when there is none."""
    try:
        got = s3.get_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if _code(exc) in _MISSING:
            return None
        raise
    record = LockRecord.from_json(got["Body"].read())
    age = (_server_time(got) - got["LastModified"]).total_seconds()
    return Observed(record, got["ETag"], expired=age >= record.lease_s, age_s=max(0.0, age))


def try_take(s3: Any, bucket: str, key: str, mine: LockRecord) -> tuple[Lease | None, Observed | None]:
    """One attempt: (our lease, None), or (None, the lock that keeps us out)."""
    try:
        put = s3.put_object(Bucket=bucket, Key=key, Body=mine.to_json(), IfNoneMatch="*",
                            ContentType="application/json")
        return Lease(s3, bucket, key, mine, put["ETag"]), None
    except Exception as exc:
        if _code(exc) not in _CONFLICT:
            raise
    current = read_lock(s3, bucket, key)
    if current is None:  # released by deletion in between: try again at once
        return try_take(s3, bucket, key, mine)
    if not (current.record.released or current.expired):
        return None, current
    taking = replace(mine, last_order=current.record.last_order, last_commit=current.record.last_commit)
    try:
        put = s3.put_object(Bucket=bucket, Key=key, Body=taking.to_json(), IfMatch=current.etag,
                            ContentType="application/json")
    except Exception as exc:
        if _code(exc) in _CONFLICT | _MISSING:  # another writer took it over first
            return None, read_lock(s3, bucket, key) or current
        raise
    return Lease(s3, bucket, key, taking, put["ETag"]), None


def _held_message(namespace: str, seen: Observed, waited_s: float | None, wait_s: float) -> str:
    since = seen.record.taken_at
    head = f"namespace {namespace} is being written by {seen.record.holder.describe()} since {since}"
    if waited_s is None:
        return f"{head}; waiting (giving up after {wait_s:.0f} s)"
    return f"{head}; gave up after waiting {waited_s:.0f} s"


def acquire(
    s3: Any, bucket: str, names: Names, holder: Holder, timing: LockTiming, *,
    log: Callable[[str], None] = lambda line: None, sleep: Callable[[float], None] = time.sleep,
) -> Lease:
    """Take the namespace's lock, waiting at most `timing.wait_s` for its holder to finish or expire."""
    key = lock_key(names)
    mine = LockRecord(names.namespace, holder, uuid.uuid4().hex, timing.lease_s, _now())
    start = time.monotonic()
    told = False
    for attempt in itertools.count():
        lease, seen = try_take(s3, bucket, key, mine)
        if lease is not None:
            return lease
        assert seen is not None
        waited = time.monotonic() - start
        if waited >= timing.wait_s:
            raise NamespaceLocked(_held_message(names.namespace, seen, waited, timing.wait_s),
                                  hint="re-run once it is done; a lock whose job died expires after "
                                       f"{seen.record.lease_s:.0f} s (tool.branchline.aws.lock_lease_seconds)")
        if not told:
            log(_held_message(names.namespace, seen, None, timing.wait_s))
            told = True
        sleep(min(POLL_S[min(attempt, len(POLL_S) - 1)], max(0.05, timing.wait_s - waited)))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _heartbeat(lease: Lease, every_s: float, stop: threading.Event) -> None:
    while not stop.wait(every_s):
        try:
            if not lease.renew():
                return
        except Exception:
            continue


@contextmanager
def namespace_lock(
    clients: ClientFactory, bucket: str, names: Names, holder: Holder, timing: LockTiming, *,
    log: Callable[[str], None] = lambda line: None, delete_on_exit: bool = False,
) -> Iterator[Lease]:
    """Hold the namespace's lock for the block (renewed in the background), released however the block ends.

    A deploy whose `holder.order` is lower than the last finished deploy's raises `Superseded` before the block.
    `delete_on_exit` (teardown) removes the lock object after a block that finished without error.
    """
    lease = acquire(clients("s3"), bucket, names, holder, timing, log=log)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(lease, max(0.2, timing.lease_s / 3), stop), daemon=True)
    beat.start()
    finished = False
    try:
        last = lease.record.last_order
        if holder.order is not None and last is not None and holder.order < last:
            raise Superseded(
                f"namespace {names.namespace} already has a newer deploy (order {last}, commit "
                f"{lease.record.last_commit[:12] or 'unknown'}) than this one (order {holder.order}, commit "
                f"{holder.commit[:12] or 'unknown'}): nothing to do",
                hint="to go back to an older version, use `branchline rollback`",
            )
        yield lease
        lease.check()
        finished = True
    finally:
        stop.set()
        beat.join(timeout=5)
        if finished and delete_on_exit:
            lease.delete()
        elif not lease.lost:
            lease.release(finished_order=finished)
