"""Guards for the moto gaps the test bed fills: each starts a moto server with only the service-task shim
(what every state machine test needs) and shows the gap is still there. When one of these fails, moto has
filled the gap: delete the shim named in its docstring and this guard."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.testbed import aws
from tests.testbed.procs import free_port, http_ok, spawn, stop, wait_until
from tests.testbed.servers import REPO, TEST_CREDENTIALS, configure_moto

pytestmark = [pytest.mark.moto, pytest.mark.slow]

_PLAIN = ("import sys; from tests.testbed import moto_shim; moto_shim.apply(); "
          "from moto import server; server.main(sys.argv[1:])")


@pytest.fixture(scope="module")
def plain_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("plain-moto") / "log"
    env = {"PATH": "/usr/bin:/bin", "MOTO_PORT": str(port), **TEST_CREDENTIALS}
    pid = spawn([sys.executable, "-c", _PLAIN, "-H", "127.0.0.1", "-p", str(port)], log, env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/moto-api/config"), timeout=60, what="moto without our Map shim", pid=pid)
        configure_moto(url, batch_docker=False)
        yield url
    finally:
        stop(pid, expect="moto_shim")


def test_moto_alone_lets_a_distributed_map_whose_item_failed_succeed(plain_moto: str, tmp_path: Path) -> None:
    """Gap filled by tests/testbed/moto_map.py: AWS fails this Map with States.ExceedToleratedFailureThreshold."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {**TEST_CREDENTIALS, "AWS_ENDPOINT_URL": plain_moto}.items():
            mp.setenv(key, value)
        target = aws.batch_target("unused:latest", ["true"])
        broken = target.job_definition.rsplit(":", 1)[0] + ":999"  # SubmitJob fails: the item fails
        item = {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "End": True,
                "Parameters": {"JobName": "item", "JobQueue": target.queue, "JobDefinition": broken}}
        definition = {"StartAt": "Map", "States": {"Map": {
            "Type": "Map", "End": True, "ItemsPath": "$.items",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                              "StartAt": "Item", "States": {"Item": item}}}}}
        described = aws.run_state_machine(definition, target.role_arn, {"items": [1, 2]}, timeout=120)
    assert described["status"] == "SUCCEEDED", "moto now fails the Map: remove tests/testbed/moto_map.py"
