"""The Batch steps of a laptop run (`run --with batch`, `@batch`), prepared in the user's namespace.

Before the first task: check the account (a user namespace lives in the development account, never in
production's), publish the step image if its dependency tag is missing (the branch repository), build the
`@pypi` steps' images, upload the code package once, and register the Batch steps' job definitions with
the same compiler a deployment uses (a revision is reused while its spec hash holds). The run then keeps
its artifacts in the S3 datastore, so containers and local workers read each other's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from branchline.authoring.attach import Attached, to_env
from branchline.aws.compile.batch import job_definition
from branchline.aws.compile.compute import step_compute
from branchline.aws.compile.context import CompileContext
from branchline.aws.deploy.observe import job_definitions
from branchline.aws.deploy.planner import _reusable
from branchline.aws.deploy.project import current_git_sha
from branchline.aws.deploy.settings import AwsSettings, aws_settings, caller_account, check_account
from branchline.aws.session import ClientFactory, aws_errors, client
from branchline.config import Config
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import S3Storage
from branchline.errors import ConfigError
from branchline.graph.model import FlowGraph
from branchline.images.codepkg import build_code_package, upload
from branchline.images.publish import publish
from branchline.images.pypi import publish_step_images
from branchline.namespaces import Names, is_production
from branchline.runtime.batch_executor import BatchStep


class ForkSafeClient:
    """A boto3 client that a forked worker re-creates for itself (a client's connections must not be shared;
    `aws.session` forgets its cached clients in a forked child)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make, self._pid, self._client = make, -1, None

    def __getattr__(self, name: str) -> Any:
        if self._pid != os.getpid():
            self._client, self._pid = self._make(), os.getpid()
        return getattr(self._client, name)


class BatchRun(NamedTuple):
    """What the hybrid scheduler needs: where each Batch step's jobs go, and the run-wide container variables."""

    steps: dict[str, BatchStep]
    environment: dict[str, str]
    image: str
    code_package: str


def batch_steps(graph: FlowGraph) -> list[str]:
    return [node.name for node in graph if step_compute(node).on_batch]


def datastore_root(settings: AwsSettings, project: str) -> str:
    return f"{settings.datastore_root}/branchline/{project}"


def s3_datastore(config: Config, namespace: str) -> FlowDatastore:
    """The run's datastore once a step goes to Batch: the namespace's prefix in the project's bucket."""
    check_user_namespace(namespace)
    settings = aws_settings(config, namespace)
    storage = S3Storage(settings.bucket, f"branchline/{config.project}", ForkSafeClient(lambda: client("s3")))
    return FlowDatastore(storage, namespace)


def check_user_namespace(namespace: str) -> None:
    if is_production(namespace):
        raise ConfigError(
            "a run from this machine never writes to the production namespace",
            hint="unset BRANCHLINE_NAMESPACE (your runs go to user-<name>); production runs only from the release",
        )


def _build_args(config: Config) -> dict[str, str]:
    table = config.get("image.build_args", {}) or {}
    if not isinstance(table, dict):
        raise ConfigError("tool.branchline.image.build_args must be a table of NAME = \"value\"")
    return {str(k): str(v) for k, v in table.items()}


def _ensure_job_definition(clients: ClientFactory, spec: Any, existing: dict[str, list[Any]]) -> str:
    found = _reusable(existing.get(spec.name, ()), spec.spec_hash)
    if found is not None:
        return str(found.arn)
    return str(clients("batch").register_job_definition(**spec.request)["jobDefinitionArn"])


def prepare(
    config: Config,
    graph: FlowGraph,
    flow_file: Path,
    namespace: str,
    attached: Sequence[Attached],
    *,
    log: Callable[[str], None] = lambda line: None,
    clients: ClientFactory = client,
    docker_client: Any = None,
) -> BatchRun:
    """Image, code package and job definitions for the Batch steps of `graph` in `namespace`."""
    check_user_namespace(namespace)
    settings = aws_settings(config, namespace)
    names = Names(config.project, namespace)
    steps = batch_steps(graph)
    computes = {name: step_compute(graph[name]) for name in steps}
    with aws_errors(f"prepare the Batch steps in {namespace}"):
        check_account(settings, namespace, caller_account(clients("sts")))
        image = ""
        if any(c.image is None for c in computes.values()):
            if not settings.image_repository:
                raise ConfigError("steps on Batch need the step image: tool.branchline.aws.image_repository is not set",
                                  hint="set it to the development account's image repository (branchline infra)")
            published = publish(config.root, settings.image_repository, build_args=_build_args(config),
                                docker_client=docker_client, log=log)  # fmt: skip
            image = published.reference
        step_images = publish_step_images(graph, image, steps=steps, docker_client=docker_client, log=log)
        relative = flow_file.resolve().relative_to(config.root.resolve()).as_posix()
        package = build_code_package(config.root, include=[relative])
        code_url, uploaded = upload(package, settings.bucket, names.s3_prefix(), client=clients("s3"))
        log(f"code package {code_url} ({'uploaded' if uploaded else 'already there'})")
        tracking = config.tracking_uri if config.tracking_enabled else ""
        ctx = CompileContext(
            project=config.project,
            namespace=namespace,
            flow_file=relative,
            image=image or "unused",
            job_queue=settings.queue_for(namespace),
            job_role_arn=settings.job_role_for(namespace),
            datastore_root=datastore_root(settings, config.project),
            code_package=code_url,
            tracking_uri=tracking if tracking.startswith(("http://", "https://")) else None,
            environment=dict(settings.job_environment),
            git_sha=current_git_sha(config.root),
            step_images=step_images,
        )
        existing: dict[str, list[Any]] = {}
        for found in job_definitions(clients, names):
            existing.setdefault(found.name, []).append(found)
        prepared = {}
        for name in steps:
            spec = job_definition(graph, graph[name], ctx)  # tagged with its spec hash, as a deployment's
            c = computes[name]
            prepared[name] = BatchStep(
                job_definition=_ensure_job_definition(clients, spec, existing),
                queue=c.queue or settings.queue_for(namespace),
                job_name=lambda task, step=name: names.job_name(graph.name, step, task),
                vcpus=c.cpu,
                memory=c.memory,
                gpus=c.gpu,
            )
    environment = {
        "BRANCHLINE_WITH": to_env(attached),
        "BRANCHLINE_SCHEDULER": "local",
    }  # a laptop run resubmits a failed job at once; only a deployed flow waits (its Wait state)
    return BatchRun(prepared, environment, image, code_url)
