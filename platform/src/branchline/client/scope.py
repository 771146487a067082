"""Which runs the client sees: the current namespace (Metaflow's `namespace()` API) and the datastore it reads.

The default namespace is the running task's (inside a flow, so `Flow('Other').latest_run` reads the run's own
namespace, on a laptop and in a Batch container alike) or this machine's user's. The datastore is the one
`datastore()` or `BRANCHLINE_DATASTORE` names, else the project's (`.branchline/datastore`); a
`production:<namespace>` selector reads the deployment's bucket instead (`[tool.branchline.aws]`).
"""

from __future__ import annotations

import os
from typing import NamedTuple

from branchline.authoring.current import current
from branchline.aws.session import client as aws_client
from branchline.config import Config, load_config
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import RunRecord
from branchline.datastore.storage import Storage, storage_from_url
from branchline.errors import ConfigError
from branchline.namespaces import PRODUCTION_NAMESPACE
from branchline.namespaces.selectors import Selector, is_namespace, parse_selector
from branchline.runtime.run_info import local_namespace

_selected: Selector | None = None
"""None until `namespace()` is called, and again after `default_namespace()`"""
_datastore_url: str | None = None


def _default_name() -> str:
    return str(current.namespace) if current.is_running_flow else local_namespace()


def namespace(ns: str | None) -> str | None:
    """Switch the client to namespace `ns` (None: every namespace); returns `get_namespace()`."""
    global _selected
    _selected = parse_selector(ns)
    return get_namespace()


def get_namespace() -> str | None:
    """The current namespace as it was given (None when every namespace is visible)."""
    return _selected.text if _selected is not None else _default_name()


def default_namespace() -> str:
    """Back to the default namespace (the running task's, else this user's); returns it."""
    global _selected
    _selected = None
    return _default_name()


def datastore(url: str | None) -> None:
    """Read from another datastore root (a directory or s3://bucket/branchline/<project>); None: the default."""
    global _datastore_url
    _datastore_url = url


def deployed_root(config: Config, ns: str) -> str:
    """The S3 datastore root the deployment of `ns` writes (production's own bucket when it has one)."""
    env = os.environ.get("BRANCHLINE_DATASTORE", "")
    if env.startswith("s3://"):  # in a step container: the deployment's own datastore
        return env
    url = str(config.get("datastore") or "")
    bucket = (config.get("aws.production_bucket") if ns == PRODUCTION_NAMESPACE else None) or config.get("aws.bucket")
    bucket = bucket or (url[5:].split("/", 1)[0] if url.startswith("s3://") else None)
    if not bucket:
        raise ConfigError(
            f"namespace('production:{ns}') reads the deployment's runs in S3, but no bucket is configured",
            hint="set [tool.branchline.aws] bucket (and production_bucket for prod) in pyproject.toml, or call "
                 "branchline.client.datastore('s3://BUCKET/branchline/PROJECT')",
        )
    return f"s3://{bucket}/branchline/{config.project}"


class Scope(NamedTuple):
    """The namespace(s) a client object reads, and where."""

    storage: Storage
    namespace: str | None
    """None: every namespace"""

    def datastores(self) -> list[FlowDatastore]:
        names = [self.namespace] if self.namespace else self.namespaces()
        return [FlowDatastore(self.storage, name) for name in names]

    def namespaces(self) -> list[str]:
        """Every namespace in the datastore."""
        return [name for name in self.storage.list_dirs("") if is_namespace(name)]

    def elsewhere(self) -> list[FlowDatastore]:
        """The datastores of the namespaces this scope does not read (to tell 'not here' from 'nowhere')."""
        return [FlowDatastore(self.storage, n) for n in self.namespaces() if n != self.namespace]

    @property
    def label(self) -> str:
        return self.namespace or "every namespace"


def run_at(ds: FlowDatastore, flow: str, run_id: str) -> tuple[FlowDatastore, RunRecord] | None:
    """The run's datastore and record: `ds`, or the S3 datastore a laptop run with steps on Batch wrote to (the
    local datastore keeps a pointer, so `Run(...)` reads a hybrid run as it reads a local one)."""
    record = ds.read_run_record(flow, run_id)
    if record is not None:
        return ds, record
    url = ds.read_elsewhere(flow, run_id)
    if url is None:
        return None
    there = FlowDatastore(storage_from_url(url, s3_client=lambda: aws_client("s3")), ds.namespace)
    record = there.read_run_record(flow, run_id)
    return (there, record) if record is not None else None


def scope(ns: str | None = None, url: str | None = None) -> Scope:
    """The current scope, or the one `ns` / `url` name (branchline's keyword arguments of `Run` and `Flow`)."""
    selected = parse_selector(ns) if ns is not None else _selected
    if selected is None:
        selected = Selector(None, _default_name())
    config = load_config()
    url = url or _datastore_url
    if url is None:
        url = deployed_root(config, selected.namespace or "") if selected.deployed else config.datastore_url
    return Scope(storage_from_url(url, s3_client=lambda: aws_client("s3")), selected.namespace)
