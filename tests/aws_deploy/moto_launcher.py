"""moto server with both test bed shims: ``python -m tests.aws_deploy.moto_launcher -H 127.0.0.1 -p PORT``.

Temporary: the test bed's launcher (``tests/testbed/moto_launcher.py``) applies only the Step Functions
service-task shim; the deployer also needs the versions/aliases operations of ``moto_sfn_versions``. Once the
test bed's launcher applies that shim too, ``tests/aws_deploy/conftest.py`` can use the shared ``moto_server``.
"""

from __future__ import annotations

import sys

from moto import server

from tests.aws_deploy import moto_sfn_versions
from tests.testbed import moto_shim

if __name__ == "__main__":
    moto_shim.apply()
    moto_sfn_versions.apply()
    server.main(sys.argv[1:])
