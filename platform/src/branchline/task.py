"""`python -m branchline.task`: the step container's entrypoint (same as `branchline task`)."""

from __future__ import annotations

import sys


def main() -> None:
    from branchline.errors import BranchlineError
    from branchline.runtime.entrypoint import run_from_env

    try:
        sys.exit(run_from_env())
    except BranchlineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
