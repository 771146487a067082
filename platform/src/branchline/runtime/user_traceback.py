"""The user's side of a task's traceback: which frames are the platform's, which are the user's code.

A frame is the platform's when its file lies inside the installed `branchline` package directory, never
because its path merely contains "branchline": a project checked out under a directory of that name (the
demo's clone) keeps every frame of its own code. The task's `.err` log gets the whole traceback; the run
record keeps the user's frames; the console shows the last few of them.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

PLATFORM_DIR = Path(__file__).parents[1]
"""The installed `branchline` package directory (`branchline/runtime/` is one level below it)."""
CONSOLE_FRAMES = 3
"""How many of the user's frames the console shows under a failed step (the log has them all)."""


def is_platform_file(filename: str, platform_dir: Path = PLATFORM_DIR) -> bool:
    """Whether a frame's file is part of the installed platform package (by location, not by name)."""
    if not os.path.isabs(filename):
        return False  # "<string>", "<frozen ...>": not a file of ours
    root = os.path.realpath(platform_dir)
    return os.path.commonpath([os.path.realpath(filename), root]) == root


def _without_platform(exc: traceback.TracebackException, platform_dir: Path, seen: set[int]) -> None:
    """Drop the platform's frames from an exception and from every exception it chains to."""
    if id(exc) in seen:
        return
    seen.add(id(exc))
    exc.stack = traceback.StackSummary.from_list(
        [frame for frame in exc.stack if not is_platform_file(frame.filename, platform_dir)]
    )
    for chained in (exc.__cause__, exc.__context__):
        if chained is not None:
            _without_platform(chained, platform_dir, seen)


def user_exception(exc: BaseException, platform_dir: Path = PLATFORM_DIR) -> traceback.TracebackException:
    """The exception with only the user's frames (its chained causes too)."""
    found = traceback.TracebackException.from_exception(exc)
    _without_platform(found, platform_dir, set())
    return found


def user_traceback(exc: BaseException, platform_dir: Path = PLATFORM_DIR) -> str:
    """The traceback as the user reads it: every frame of their code, none of the platform's."""
    return "".join(user_exception(exc, platform_dir).format())


def whole_traceback(exc: BaseException) -> str:
    """Every frame, the platform's included: what the task's `.err` log (or CloudWatch) keeps."""
    return "".join(traceback.format_exception(exc))


def last_user_frames(exc: BaseException, count: int = CONSOLE_FRAMES, platform_dir: Path = PLATFORM_DIR) -> str:
    """The last `count` frames of the user's code where the exception was raised, as the console shows them."""
    frames = traceback.StackSummary.from_list(user_exception(exc, platform_dir).stack[-count:])
    return "".join(frames.format())
