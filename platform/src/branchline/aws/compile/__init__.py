"""The AWS compiler: flow graph + namespace + deploy context → Batch job definitions, ASL, schedule.

Pure functions, no I/O: the deployer registers what `compile_job_definitions` returns, passes the
resulting ARNs to `compile_state_machine`, and creates the schedule of `compile_schedule`.
See docs/aws-compiler.md.
"""

from branchline.aws.compile.batch import compile_job_definitions
from branchline.aws.compile.context import (
    CONTAINER_OVERRIDES_MAX_CHARS,
    DEFINITION_MAX_BYTES,
    PARAMS_MAX_JSON_CHARS,
    CompileContext,
    CompileError,
    JobDefinitionSpec,
    SourceContext,
)
from branchline.aws.compile.machine import compile_state_machine, definition_json
from branchline.aws.compile.schedule import compile_schedule

__all__ = [
    "CONTAINER_OVERRIDES_MAX_CHARS",
    "DEFINITION_MAX_BYTES",
    "PARAMS_MAX_JSON_CHARS",
    "CompileContext",
    "CompileError",
    "JobDefinitionSpec",
    "SourceContext",
    "compile_job_definitions",
    "compile_schedule",
    "compile_state_machine",
    "definition_json",
]
