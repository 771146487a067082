"""Small flows the whole test suite reuses: one construct each, trivial bodies, real artifacts.

Files end in `_flow.py` so that the loader (which puts this folder on sys.path) never shadows an
installed package. `FLOWS` lists them; `flow_path(name)` gives the file of one.
"""

from __future__ import annotations

from pathlib import Path

FLOWS_DIR = Path(__file__).resolve().parent
FLOWS: tuple[str, ...] = tuple(sorted(p.stem for p in FLOWS_DIR.glob("*_flow.py")))


def flow_path(name: str) -> Path:
    """The file of the test flow `name` (e.g. `linear_flow`)."""
    path = FLOWS_DIR / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no test flow {name!r} in {FLOWS_DIR} (have: {', '.join(FLOWS)})")
    return path
