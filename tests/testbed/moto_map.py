"""Fill moto's Distributed Map failure tolerance (test bed only, inside the moto server).

What moto 5.2 lacks: its Distributed Map counts a failed child execution in the Map Run's item counts, but
never compares them with the tolerated failure (`ToleratedFailureCount` / `ToleratedFailurePercentage`,
both 0 when absent), so a Map whose items failed succeeds. AWS fails the Map Run, and the Map state, with
`States.ExceedToleratedFailureThreshold` once more items failed (or timed out) than tolerated, which the
Map state's Catch then handles. Here, once every child has ended, the counts are compared and the Map fails
the same way (AWS stops the remaining children as soon as the threshold is exceeded; moto's children have all
ended by then, which changes nothing a test can see but the time).

Read to write this (not copied): moto's `moto/stepfunctions/parser/asl/component/state/exec/state_map/
iteration/distributed_iteration_component.py` and `itemprocessor/map_run_record.py`, and the AWS Step
Functions documentation of failure thresholds for Distributed Map states.
"""

from __future__ import annotations

from typing import Any

ERROR = "States.ExceedToleratedFailureThreshold"
CAUSE = "The specified tolerated failure threshold was exceeded"
_FLAG = "_branchline_map_shim"


def exceeded(failed: int, total: int, count: int, percentage: float) -> bool:
    """AWS's rule: the Map Run fails when failures exceed either tolerated threshold."""
    return failed > count or (total > 0 and 100.0 * failed / total > percentage)


def apply() -> None:
    """Compare a finished Map Run's failures with its tolerance (idempotent)."""
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as component,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    cls = component.DistributedIterationComponent
    if getattr(cls, _FLAG, False):
        return
    original = cls._map_run

    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        original(self, env, eval_input)
        counts = eval_input.map_run_record.item_counter
        failed = counts.failed.get() + counts.timed_out.get()
        if not exceeded(failed, counts.total.get(), int(eval_input.tolerated_failure_count or 0),
                        float(eval_input.tolerated_failure_percentage or 0)):
            return
        env.stack.pop()  # the outputs the Map Run would have returned
        details = MapRunFailedEventDetails(error=ERROR, cause=CAUSE)
        raise FailureEventException(FailureEvent(env=env, error_name=CustomErrorName(ERROR),
                                                 event_type=HistoryEventType.MapRunFailed,
                                                 event_details=EventDetails(mapRunFailedEventDetails=details)))

    cls._map_run = _map_run
    setattr(cls, _FLAG, True)
