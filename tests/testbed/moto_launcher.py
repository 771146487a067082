"""Run moto with the test bed's shims applied: ``python -m tests.testbed.moto_launcher -H 127.0.0.1 -p PORT``.

Shims must be installed inside the server process, because that is where moto's Step Functions interpreter
and API handlers run. Arguments are moto's own. Docker-related settings come from the environment set by the
caller (``DOCKER_HOST``, ``MOTO_DOCKER_NETWORK_MODE``); the ``stepfunctions``/``batch`` config is posted to
``/moto-api/config`` after start-up (``servers.configure_moto``).
"""

from __future__ import annotations

import importlib
import sys

# Each module fills one moto gap and has an idempotent ``apply()``; all of them run in every test bed server.
SHIMS = (
    "tests.testbed.moto_shim",  # Step Functions service-task parameter/response normalisation
    "tests.aws_deploy.moto_sfn_versions",  # Step Functions versions/aliases operations the deployer needs
    "tests.testbed.moto_batch_capacity",  # a Batch job no compute environment can hold stays RUNNABLE
    "tests.aws_deploy.moto_s3_conditional",  # S3 conditional writes atomic, as S3's are (the namespace lock)
    "tests.aws_deploy.moto_sfn_accounts",  # a Batch task state acts in its execution's account (two-account mode)
    "tests.testbed.moto_map",  # a Distributed Map fails when more items fail than it tolerates
    "tests.testbed.moto_batch",  # Batch retries (evaluateOnExit), error names; host-failure and throttle faults
    "tests.testbed.moto_job_role",  # a Batch container acts as its job role (its keys, unless the job sets its own)
)


def main(argv: list[str]) -> None:
    """Apply the shims, then serve forever."""
    from moto import server

    for name in SHIMS:
        importlib.import_module(name).apply()
    server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
