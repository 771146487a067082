"""Fill moto's missing Step Functions service-integration normalisation (test bed only).

What moto lacks: moto's Step Functions interpreter (``moto.stepfunctions.parser``, ported from LocalStack) calls
``StateTaskService._normalise_parameters`` before a service Task and ``_normalise_response`` after it, but in
moto 5.x both are no-op stubs (``pass``). The helpers they should call (``_to_boto_request``,
``_from_boto_response``) are present. Without them a ``arn:aws:states:::batch:submitJob.sync`` Task passes the
Step Functions (PascalCase) keys ``JobName``, ``JobQueue``, ``JobDefinition``, ``ContainerOverrides``... to
botocore as-is, and the ``.sync`` poller reads ``JobId`` from a camelCase (``jobId``) response, so the execution
fails with ``States.Runtime`` naming the key.

What we fill, as LocalStack does: look up the botocore operation model of the Task's service and action, map
the Parameters to the operation's input shape (key matching is case-insensitive through snake_case, recursively
into structures and lists), and map the response back to Step Functions casing (PascalCase) along the output
shape. The patch is applied to the base class, so every service integration that calls the stubs (Batch, ECS,
SFN ``startExecution.sync``, Lambda, SQS...) gets the behaviour LocalStack has.

Read to write this (not copied):
- moto: ``moto/stepfunctions/parser/asl/component/state/exec/state_task/service/state_task_service.py``
  (https://github.com/getmoto/moto, the stubs and helpers) and ``state_task_service_batch.py`` (the ``.sync``
  poller that expects ``JobId``);
- LocalStack: ``localstack-core/localstack/services/stepfunctions/asl/component/state/exec/state_task/service/
  state_task_service.py`` (https://github.com/localstack/localstack), where the two methods are implemented
  over the service's botocore operation model.

Applied only inside the moto server process started by ``tests/testbed/moto_launcher.py``; never imported by
the branchline package.
"""

from __future__ import annotations

import functools
from typing import Any

_PATCHED_FLAG = "_branchline_shim_applied"


@functools.cache
def operation_model(service_name: str, action: str) -> Any:
    """The botocore ``OperationModel`` of ``service_name`` whose snake_case name is ``action``.

    ``action`` arrives in snake_case (``submit_job``, from moto's ``_get_boto_service_action``); botocore's
    ``xform_name`` gives the same form for every operation, so matching on it is exact.
    """
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service_name)
    wanted = xform_name(action)
    for name in model.operation_names:
        if xform_name(name) == wanted:
            return model.operation_model(name)
    raise KeyError(f"botocore has no operation {action!r} in service {service_name!r}")


def _normalise_parameters(
    self: Any,
    parameters: dict,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """Rename Step Functions Parameters to the botocore input shape's members, in place."""
    op = operation_model(
        self._get_boto_service_name(boto_service_name=boto_service_name),
        self._get_boto_service_action(service_action_name=service_action_name),
    )
    if op.input_shape is not None:
        self._to_boto_request(parameters, op.input_shape)


def _normalise_response(
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """Rename a botocore response's keys to Step Functions casing (PascalCase), in place."""
    op = operation_model(
        self._get_boto_service_name(boto_service_name=boto_service_name),
        self._get_boto_service_action(service_action_name=service_action_name),
    )
    if op.output_shape is not None:
        self._from_boto_response(response, op.output_shape)


def apply() -> None:
    """Install the two methods on moto's ``StateTaskService`` (idempotent)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
    )

    cls = state_task_service.StateTaskService
    if getattr(cls, _PATCHED_FLAG, False):
        return
    for name in ("_normalise_parameters", "_normalise_response", "_to_boto_request", "_from_boto_response"):
        if not callable(getattr(cls, name, None)):
            raise RuntimeError(
                f"moto's StateTaskService has no {name}(): this moto version changed the interpreter; "
                "review tests/testbed/moto_shim.py"
            )
    cls._normalise_parameters = _normalise_parameters  # type: ignore[method-assign]
    cls._normalise_response = _normalise_response  # type: ignore[method-assign]
    setattr(cls, _PATCHED_FLAG, True)
