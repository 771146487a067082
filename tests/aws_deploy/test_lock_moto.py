"""The namespace lock on the moto server: S3 conditional writes for real, threads and processes racing.

What is proved here: one writer at a time (many threads, a counter updated read-modify-write under the lock);
a clear message when the lock is held and the wait runs out; a dead holder's lease expires and exactly one
next writer takes it over; a holder that lost its lease stops before its next call; two deploys of one
namespace racing converge on the newer commit whichever gets the lock first, with every job definition that
`live` runs ACTIVE; the ACTIVE check catches a writer that bypassed the lock; a teardown that arrives during a
deploy waits for it and leaves nothing behind (a flow delete waits too); a deployer process killed with SIGKILL
does not wedge the namespace.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from branchline.aws.deploy import delete_flow, deploy, teardown
from branchline.aws.deploy.apply import apply_desired
from branchline.aws.deploy.lock import (
    Holder,
    LockLost,
    LockTiming,
    NamespaceLocked,
    Superseded,
    acquire,
    lock_key,
    namespace_lock,
    read_lock,
    try_take,
)
from branchline.aws.deploy.models import Call
from branchline.aws.deploy.observe import state_machine, state_machine_arns
from branchline.aws.deploy.planner import job_definition_arns
from branchline.aws.session import client
from branchline.config import Config, load_config
from branchline.namespaces import Names
from tests.aws_deploy.conftest import Infra
from tests.aws_deploy.recording import CallRecorder
from tests.aws_deploy.standins import new_project
from tests.aws_deploy.test_project_moto import IMAGE, make_project

pytestmark = pytest.mark.moto
FLOW = "TrainFlow"


def locked_project(root: Path, aws: Infra, *, lease: float = 30, wait: float = 60) -> Path:
    """A real one-flow project whose lock lease and wait are short enough for a test."""
    make_project(root, new_project(), aws)
    with (root / "pyproject.toml").open("a") as handle:  # the [tool.branchline.aws] table is the file's last
        handle.write(f"lock_lease_seconds = {lease}\nlock_wait_seconds = {wait}\n")
    return root


class SlowExecutor(CallRecorder):
    """The real executor, slowed down per call; `pause_before` blocks before the first call of that operation,
    `pause_after=N` once N calls are done, until `resume` is set (and sets `paused` when it gets there)."""

    def __init__(self, delay: float = 0.0, pause_before: str | None = None, pause_after: int | None = None) -> None:
        super().__init__()
        self.delay = delay
        self.pause_before = pause_before
        self.pause_after = pause_after
        self.paused = threading.Event()
        self.resume = threading.Event()
        self.started = threading.Event()
        self.times: list[float] = []

    def run(self, call: Call) -> dict[str, Any]:
        self.started.set()
        if self.pause_before and call.operation == self.pause_before and not self.paused.is_set():
            self.paused.set()
            assert self.resume.wait(60), "never resumed"
        time.sleep(self.delay)
        response = super().run(call)
        self.times.append(time.monotonic())
        if self.pause_after is not None and len(self.calls) == self.pause_after and not self.paused.is_set():
            self.paused.set()
            assert self.resume.wait(60), "never resumed"
        return response


class Worker(threading.Thread):
    """Runs `target` in a thread; keeps its result or exception."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.target()
        except BaseException as exc:
            self.error = exc

    def outcome(self, timeout: float = 120) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "worker did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def live_state(project: str, namespace: str) -> tuple[str, set[str], dict[str, str]]:
    """(the git sha the version behind `live` was published for, the job definition ARNs it runs, their status)."""
    names = Names(project, namespace)
    arn = state_machine_arns(client)[names.state_machine(FLOW)]
    sm = state_machine(client, arn)
    (target,) = sm.aliases["live"]
    version = next(v for v in sm.versions if v.arn == target)
    arns = job_definition_arns(version.definition)
    described = client("batch").describe_job_definitions(jobDefinitions=sorted(arns))["jobDefinitions"]
    return version.description, arns, {d["jobDefinitionArn"]: d["status"] for d in described}


def leftovers(project: str, namespace: str, bucket: str) -> list[str]:
    names = Names(project, namespace)
    found = [n for n in state_machine_arns(client) if n == names.state_machine(FLOW)]
    found += [d["jobDefinitionArn"] for d in client("batch").describe_job_definitions(status="ACTIVE")["jobDefinitions"]
              if (d.get("tags") or {}).get("branchline:namespace") == namespace
              and (d.get("tags") or {}).get("branchline:project") == project]
    listed = client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{names.s3_prefix()}/")
    return found + [o["Key"] for o in listed.get("Contents", [])]


# ----------------------------------------------------------------------------- the lock itself


def test_one_holder_at_a_time_among_racing_threads(aws: Infra) -> None:
    """Eight threads each add one to a counter read-modify-write under the lock: no update is lost."""
    names = Names(new_project(), "br-race")
    s3 = client("s3")
    key = f"{names.s3_prefix()}/counter"
    s3.put_object(Bucket=aws.bucket, Key=key, Body=b"0")
    inside, most = [0], [0]
    guard = threading.Lock()

    def add_one(n: int) -> None:
        with namespace_lock(client, aws.bucket, names, Holder("deploy", run=str(n)), LockTiming(30, 60)):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            value = int(s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
            time.sleep(0.05)
            s3.put_object(Bucket=aws.bucket, Key=key, Body=str(value + 1).encode())
            with guard:
                inside[0] -= 1

    workers = [Worker(lambda n=n: add_one(n)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.outcome()
    assert int(s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read()) == 8
    assert most[0] == 1
    released = read_lock(s3, aws.bucket, lock_key(names))
    assert released is not None and released.record.released


def test_a_held_lock_says_who_holds_it_and_gives_up_after_the_wait(aws: Infra) -> None:
    names = Names(new_project(), "br-held")
    s3 = client("s3")
    holder = Holder("deploy", run="4242 of acme/churn", commit="1a2b3c4d5e6f7a8b")
    lease = acquire(s3, aws.bucket, names, holder, LockTiming(60, 1))
    said: list[str] = []
    with pytest.raises(NamespaceLocked) as refused:
        acquire(s3, aws.bucket, names, Holder("teardown", run="4243"), LockTiming(60, 1.5), log=said.append)
    message = str(refused.value)
    assert message.startswith("namespace br-held is being written by run 4242 of acme/churn of commit 1a2b3c4d5e6f "
                              "(deploy) since 20"), message
    assert "gave up after waiting" in message and "lock_lease_seconds" in message
    assert said == [said[0]] and said[0].endswith("waiting (giving up after 2 s)"), said
    assert lease.release()
    taken = acquire(s3, aws.bucket, names, Holder("teardown"), LockTiming(60, 1))  # released: free at once
    assert taken.delete()
    assert read_lock(s3, aws.bucket, lock_key(names)) is None


def test_an_expired_lease_is_taken_over_once_and_its_holder_stops(aws: Infra) -> None:
    """A holder that stopped renewing (a killed job) loses the namespace after its lease; of two writers that
    saw it expire, the conditional write on its ETag lets exactly one in."""
    names = Names(new_project(), "br-expire")
    s3 = client("s3")
    dead = acquire(s3, aws.bucket, names, Holder("deploy", run="1"), LockTiming(1, 1))
    time.sleep(2.1)  # S3's clock has 1 s resolution: LastModified + lease must be clearly past
    seen = read_lock(s3, aws.bucket, lock_key(names))
    assert seen is not None and seen.expired
    mine = dead.record.__class__(names.namespace, Holder("deploy", run="2"), "t2", 30, "now")
    theirs = dead.record.__class__(names.namespace, Holder("deploy", run="3"), "t3", 30, "now")
    first, _ = try_take(s3, aws.bucket, lock_key(names), mine)
    second, blocking = try_take(s3, aws.bucket, lock_key(names), theirs)
    assert first is not None and second is None
    assert blocking is not None and blocking.record.holder.run == "2" and not blocking.expired
    assert not dead.renew()  # its ETag is gone
    with pytest.raises(LockLost, match="lost the lock of namespace br-expire"):
        dead.check()
    assert first.release()


def test_a_writer_that_lost_its_lease_makes_no_further_call(aws: Infra, tmp_path: Path) -> None:
    """The executor checks the lease before every call: once another writer took over, the deploy stops."""
    config = load_config(locked_project(tmp_path, aws))
    names = Names(config.project, "br-lost")
    slow = SlowExecutor(pause_before="create_state_machine")
    worker = Worker(lambda: deploy(config, "br-lost", image=IMAGE, code_package="s3://code/1.tgz", git_sha="one",
                                   executor=slow))
    worker.start()
    assert slow.paused.wait(60)
    s3 = client("s3")
    seen = read_lock(s3, aws.bucket, lock_key(names))
    assert seen is not None and not seen.record.released
    s3.put_object(Bucket=aws.bucket, Key=lock_key(names), Body=b'{"namespace": "br-lost"}', IfMatch=seen.etag)
    made = len(slow.calls)
    slow.resume.set()
    with pytest.raises(LockLost):
        worker.outcome()
    assert len(slow.calls) == made  # nothing after the take-over


def test_an_older_deploy_after_a_newer_one_is_superseded(aws: Infra, tmp_path: Path) -> None:
    config = load_config(locked_project(tmp_path, aws))
    newer = deploy(config, "br-order", image=IMAGE, code_package="s3://code/2.tgz", git_sha="two",
                   holder=Holder("deploy", run="8", commit="two", order=8))
    assert newer.executed
    late = CallRecorder()
    with pytest.raises(Superseded, match=r"already has a newer deploy \(order 8, commit two\)") as refused:
        deploy(config, "br-order", image=IMAGE, code_package="s3://code/1.tgz", git_sha="one",
               holder=Holder("deploy", run="7", commit="one", order=7), executor=late)
    assert refused.value.exit_code == 0 and late.calls == []
    assert live_state(config.project, "br-order")[0] == "two"
    # a person deploying by hand (no order key) always proceeds
    deploy(config, "br-order", image=IMAGE, code_package="s3://code/1.tgz", git_sha="one")
    assert live_state(config.project, "br-order")[0] == "one"


# ----------------------------------------------------------------------------- the race of issue 10


@pytest.mark.parametrize("older_first", [True, False], ids=["older-takes-the-lock-first", "newer-first"])
def test_two_racing_deploys_converge_on_the_newer_commit(aws: Infra, tmp_path: Path, older_first: bool) -> None:
    """Two pushes to one branch: the older commit's deploy is the slow one. Whichever takes the lock first,
    `live` ends at the newer commit and runs only ACTIVE job definition revisions."""
    config = load_config(locked_project(tmp_path, aws))
    ns = "br-racing"
    deploy(config, ns, image=IMAGE, code_package="s3://code/0.tgz", git_sha="zero",
           holder=Holder("deploy", run="1", commit="zero", order=1))
    older_exec, newer_exec = SlowExecutor(delay=0.3), SlowExecutor()
    older = Worker(lambda: deploy(config, ns, image=IMAGE, code_package="s3://code/1.tgz", git_sha="one",
                                  holder=Holder("deploy", run="2", commit="one", order=2), executor=older_exec))
    newer = Worker(lambda: deploy(config, ns, image=IMAGE, code_package="s3://code/2.tgz", git_sha="two",
                                  holder=Holder("deploy", run="3", commit="two", order=3), executor=newer_exec))
    first, second = (older, newer) if older_first else (newer, older)
    first.start()
    assert (older_exec if older_first else newer_exec).started.wait(60)
    second.start()
    if older_first:
        older.outcome()
        assert newer.outcome().executed
        assert min(newer_exec.times) > max(older_exec.times), "the newer deploy wrote while the older held the lock"
    else:
        newer.outcome()
        with pytest.raises(Superseded):
            older.outcome()
        assert older_exec.calls == []
    sha, arns, status = live_state(config.project, ns)
    assert sha == "two"
    assert status == dict.fromkeys(arns, "ACTIVE") and len(arns) == 3


def test_the_active_check_catches_a_writer_that_bypassed_the_lock(aws: Infra, tmp_path: Path) -> None:
    """The issue's corruption, replayed: the older deploy registers revisions, a writer outside the lock
    deregisters them as unused, the older one is about to publish. It checks, re-plans, and publishes a
    version whose revisions are ACTIVE."""
    config = load_config(locked_project(tmp_path, aws))
    ns = "br-bypass"
    deploy(config, ns, image=IMAGE, code_package="s3://code/0.tgz", git_sha="zero")
    older_exec = SlowExecutor(pause_after=3)  # its three revisions registered, not yet checked nor published
    older = Worker(lambda: deploy(config, ns, image=IMAGE, code_package="s3://code/1.tgz", git_sha="one",
                                  executor=older_exec))
    older.start()
    assert older_exec.paused.wait(60)
    registered = [c for c in older_exec.calls if c.operation == "register_job_definition"]
    assert len(registered) == 3
    # the bypassing writer: the planner's own deregistration of unused revisions, with no lock taken
    from branchline.aws.deploy.desired import desired_flow
    from branchline.aws.deploy.project import load_flows
    from branchline.aws.deploy.settings import aws_settings

    names = Names(config.project, ns)
    (flow_file, graph), = load_flows(config)
    other = desired_flow(graph, names, aws_settings(config, ns), flow_file=flow_file, image=IMAGE,
                         code_package="s3://code/2.tgz", git_sha="two", tracking_uri=None)
    bypass = apply_desired(names, [other])
    assert sum(c.operation == "deregister_job_definition" for c in bypass.plan.calls) >= 3
    older_exec.resume.set()
    result = older.outcome()
    assert result.executed
    assert older_exec.operations.count("batch.register_job_definition") == 6  # registered again after re-planning
    sha, arns, status = live_state(config.project, ns)
    assert sha == "one" and status == dict.fromkeys(arns, "ACTIVE")


def during_a_deploy(config: Config, ns: str, write: Callable[[SlowExecutor, Callable[[str], None]], Any]) -> Any:
    """Start a slow deploy of `ns`, call `write(executor, log)` while it runs; check the write waited for the
    deploy (said who held the lock, made its first call after the deploy's last) and return its result."""
    deploying = SlowExecutor(delay=0.3)
    worker = Worker(lambda: deploy(config, ns, image=IMAGE, code_package="s3://code/1.tgz", git_sha="one",
                                   executor=deploying))
    worker.start()
    assert deploying.started.wait(60)
    said: list[str] = []
    writing = SlowExecutor()
    result = write(writing, said.append)
    assert worker.outcome().executed
    assert said and said[0].startswith(f"namespace {ns} is being written by ") and "(deploy)" in said[0], said
    assert min(writing.times) > max(deploying.times)
    return result


def test_a_teardown_during_a_deploy_waits_for_it_and_leaves_nothing(aws: Infra, tmp_path: Path) -> None:
    config = load_config(locked_project(tmp_path, aws))
    ns = "br-closing"
    client("s3").put_object(Bucket=aws.bucket, Key=f"{Names(config.project, ns).s3_prefix()}/code/1.tgz", Body=b"x")
    plan = during_a_deploy(config, ns, lambda executor, log: teardown(config, ns, executor=executor, log=log))
    assert {"delete_state_machine", "deregister_job_definition", "delete_objects"} <= {c.operation for c in plan.calls}
    assert leftovers(config.project, ns, aws.bucket) == []


def test_a_flow_delete_during_a_deploy_waits_for_it(aws: Infra, tmp_path: Path) -> None:
    """`step-functions delete` is a write too: it waits for the deploy in flight, then removes what it finished."""
    config = load_config(locked_project(tmp_path, aws))
    ns = "br-deleting"
    plan = during_a_deploy(config, ns, lambda executor, log: delete_flow(config, ns, FLOW, executor=executor, log=log))
    assert {"delete_state_machine", "deregister_job_definition"} <= {c.operation for c in plan.calls}
    names = Names(config.project, ns)
    assert leftovers(config.project, ns, aws.bucket) == [lock_key(names)]  # data kept; the lock stays, released
    released = read_lock(client("s3"), aws.bucket, lock_key(names))
    assert released is not None and released.record.released


KILLED_DEPLOYER = textwrap.dedent("""
    import sys, time
    from branchline.aws.deploy.lock import Holder, LockTiming, acquire
    from branchline.aws.session import client
    from branchline.namespaces import Names
    acquire(client("s3"), sys.argv[1], Names(sys.argv[2], sys.argv[3]), Holder("deploy", run="99", commit="dead"),
            LockTiming(float(sys.argv[4]), 10))
    print("locked", flush=True)
    time.sleep(600)
""")


def test_a_killed_deployers_lock_expires_and_the_next_deploy_proceeds(aws: Infra, tmp_path: Path) -> None:
    config = load_config(locked_project(tmp_path / "p", aws, lease=3, wait=60))
    ns = "br-killed"
    process = subprocess.Popen([sys.executable, "-c", KILLED_DEPLOYER, aws.bucket, config.project, ns, "3"],
                               stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    held = read_lock(client("s3"), aws.bucket, lock_key(Names(config.project, ns)))
    assert held is not None and held.record.holder.run == "99" and not held.record.released
    said: list[str] = []
    result = deploy(config, ns, image=IMAGE, code_package="s3://code/1.tgz", git_sha="one", log=said.append)
    assert result.executed and live_state(config.project, ns)[0] == "one"
    assert said and "run 99 of commit dead (deploy)" in said[0], said
    after = read_lock(client("s3"), aws.bucket, lock_key(Names(config.project, ns)))
    assert after is not None and after.record.released
    assert json.loads(client("s3").get_object(Bucket=aws.bucket, Key=lock_key(Names(config.project, ns)))["Body"]
                      .read())["holder"]["commit"] == "one"
