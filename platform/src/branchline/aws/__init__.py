"""Flows on AWS: `session.py` (the one boto3 client factory), `compile/` (graph → ASL + job definitions, pure),
`deploy/` (desired → plan → execute), `ops/` (trigger, status, logs), `infra.py` (the CloudFormation stacks).
boto3 is imported only inside the functions that call AWS."""
