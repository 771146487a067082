"""The package's layers, as docs/architecture.md draws them: a low room never imports a higher one.

Read from the source (every import statement, also those inside functions), so a new upward import fails here
before it closes a cycle. Plus: own-package imports sit at module top everywhere but in the few places named in
`IN_FUNCTION_ON_PURPOSE`, no module imports a heavy library at module level, the command line loads a command's
module only when that command runs, and `branchline run` / `branchline --help` import no heavy library (checked
in a real process).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import branchline

SOURCE = Path(branchline.__file__).parent.parent
FLOWS = Path(__file__).parents[1] / "flows"

LAYERS: list[tuple[str, ...]] = [  # highest first; rooms of one layer do not import each other
    ("branchline.cli",),
    ("branchline.ci",),
    ("branchline.aws.ops",),
    ("branchline",),
    ("branchline.aws.deploy", "branchline.aws.infra", "branchline.gate", "branchline.client"),
    ("branchline.runtime", "branchline.checks", "branchline.images"),
    ("branchline.authoring", "branchline.tracking", "branchline.aws.compile"),
    ("branchline.graph", "branchline.datastore", "branchline.aws.session"),
    ("branchline.config",),
    ("branchline.namespaces",),
    ("branchline.errors",),
]

UPWARD_ON_PURPOSE = {
    ("branchline.authoring.flowspec", "branchline.runtime.flow_cli"),
    ("branchline.runtime.flow_cli", "branchline.cli.step_functions"),
    ("branchline.runtime.launcher", "branchline.aws.deploy.user_batch"),
}
"""`FlowSpec()` under `__main__` starts the flow's command line, as Metaflow's does; that command line's
`step-functions` group deploys and triggers, which only the cli layer may do; a run whose steps go to Batch asks
the deployer to prepare them (image, code package, job definitions). All three imports are lazy."""

IN_FUNCTION_ON_PURPOSE = {
    ("branchline.authoring.flowspec", "branchline.runtime.flow_cli"): "an upward hop (above), lazy so the "
    "layers stay acyclic",
    ("branchline.runtime.flow_cli", "branchline.cli.step_functions"): "an upward hop (above), lazy so the "
    "layers stay acyclic",
    ("branchline", "branchline.client"): "the client's names load on first use (a module __getattr__), so a "
    "flow's start-up does not pay for them",
    ("branchline.runtime.launcher", "branchline.aws.deploy.user_batch"): "an upward hop (above), lazy: only a "
    "run with steps on Batch loads the deployer",
    ("branchline.cli.entry", "branchline.runtime.entrypoint"): "`branchline task`, every Batch container's "
    "command, skips the Typer app (~0.15 s per task, docs/benchmarks.md)",
    ("branchline.cli.entry", "branchline.cli.main"): "every other command loads the Typer app, which "
    "`branchline task` does not need",
}
"""The only own-package imports allowed inside a function, each with its reason. Everything else is imported at
module top, so a module's first lines say what it depends on. (`from branchline import __version__` is the version
string, not a dependency: `images.publish` reads it when it hashes. `cli/main.py` imports a command's module by
name from its `COMMANDS` table, checked below.) Heavy third-party libraries are another matter: they stay inside
the functions that use them, and the last test checks that."""

HEAVY = ("boto3", "botocore", "mlflow", "great_expectations", "docker", "pandas")


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SOURCE / "branchline").rglob("*.py"):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def room(module: str) -> str:
    """The room (layer member) a module belongs to: the longest listed prefix."""
    rooms = [r for layer in LAYERS for r in layer if module == r or module.startswith(r + ".")]
    if not rooms:
        raise AssertionError(f"{module} is in no layer: add its folder to LAYERS (and to docs/architecture.md)")
    return max(rooms, key=len)


def level(module: str) -> int:
    target = room(module)
    return next(i for i, layer in enumerate(LAYERS) if target in layer)


def imports(path: Path) -> Iterator[tuple[str, bool]]:
    """(imported branchline module, inside a function?) for every import statement of `path`."""
    return imports_in(path.read_text())


def imports_in(source: str) -> Iterator[tuple[str, bool]]:
    """(imported branchline module, inside a function?) for every import statement of `source`."""

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                yield from ((a.name, nested) for a in child.names if a.name.startswith("branchline"))
            elif isinstance(child, ast.ImportFrom) and (child.module or "").startswith("branchline"):
                for alias in child.names:  # `from pkg import module` imports pkg.module
                    full = f"{child.module}.{alias.name}"
                    if full in MODULES:
                        yield full, nested
                    elif child.module == "branchline" and alias.name == "__version__":
                        continue  # the version string, not the authoring API the root package re-exports
                    else:
                        yield child.module or "", nested
            yield from visit(child, nested)

    yield from visit(ast.parse(source), False)


def in_function(module: str, source: str) -> list[str]:
    """Own-package imports of `module` made inside a function and not allowed in IN_FUNCTION_ON_PURPOSE."""
    return [
        f"{module} imports {target} inside a function"
        for target, nested in imports_in(source)
        if nested and (module, target) not in IN_FUNCTION_ON_PURPOSE
    ]


def violations(graph: Mapping[str, set[str]]) -> list[str]:
    """Imports of a higher layer, or of another room of the same layer."""
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            same_room = room(module) == room(target)
            if same_room or (module, target) in UPWARD_ON_PURPOSE:
                continue
            if level(target) <= level(module):
                found.append(f"{module} imports {target} ({room(target)} is not below {room(module)})")
    return found


def test_no_room_imports_a_higher_one() -> None:
    graph = {m: {target for target, _ in imports(p)} for m, p in MODULES.items()}
    assert violations(graph) == []


def test_the_check_catches_an_upward_import() -> None:
    assert violations({"branchline.graph.parse": {"branchline.runtime.loader"}}) == [
        "branchline.graph.parse imports branchline.runtime.loader "
        "(branchline.runtime is not below branchline.graph)"
    ]
    assert violations({"branchline.datastore.storage": {"branchline.aws.session"}})  # siblings stay apart


def test_the_upward_imports_are_lazy() -> None:
    for module, target in UPWARD_ON_PURPOSE:
        assert (target, True) in set(imports(MODULES[module]))
        assert (target, False) not in set(imports(MODULES[module]))


def test_own_package_imports_are_at_module_top() -> None:
    assert [line for module, path in MODULES.items() for line in in_function(module, path.read_text())] == []


def test_the_check_catches_an_import_inside_a_function() -> None:
    source = "from branchline.errors import ConfigError\n\ndef f():\n    from branchline.config import load_config\n"
    assert in_function("branchline.tracking.models", source) == [
        "branchline.tracking.models imports branchline.config inside a function"
    ]
    lazy_hop = "def __init__(self):\n    from branchline.runtime.flow_cli import main\n"
    assert in_function("branchline.authoring.flowspec", lazy_hop) == []
    assert in_function("branchline.authoring.parameters", lazy_hop)  # allowed for that one module only


def test_each_command_loads_from_the_module_the_table_names() -> None:
    """`cli/main.py` imports a command's module when the command runs: the table must match the modules."""
    from branchline.cli.main import COMMANDS, commands_of

    modules = sorted(p.stem for p in (SOURCE / "branchline" / "cli").glob("cmd_*.py"))
    assert sorted(set(COMMANDS.values())) == modules
    for module in modules:
        assert sorted(commands_of(module)) == sorted(name for name, owner in COMMANDS.items() if owner == module)


def heavy_at_module_level(source: str) -> list[str]:
    """Heavy libraries `source` imports outside any function (a `TYPE_CHECKING` block does not count)."""

    def visit(node: ast.AST) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING"):
                yield from (name for branch in child.orelse for name in visit(ast.Module([branch], [])))
                continue
            if isinstance(child, ast.Import):
                yield from (a.name for a in child.names if a.name.split(".")[0] in HEAVY)
            elif isinstance(child, ast.ImportFrom) and (child.module or "").split(".")[0] in HEAVY:
                yield child.module or ""
            yield from visit(child)

    return list(visit(ast.parse(source)))


def test_heavy_libraries_are_imported_only_inside_functions() -> None:
    """Every module of the package, task_run and the recorder (imported by every task) included, imports for free."""
    found = {m: heavy_at_module_level(p.read_text()) for m, p in MODULES.items()}
    assert {m: names for m, names in found.items() if names} == {}
    source = "import boto3\nif TYPE_CHECKING:\n    import mlflow\ndef f():\n    import docker\n"
    assert heavy_at_module_level(source) == ["boto3"]


PROBE = """
import atexit, json, sys
def report():
    with open({out!r}, "w") as handle:
        json.dump(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r} + ("branchline",)), handle)
atexit.register(report)
sys.argv = {argv!r}
from branchline.cli.main import main
main()
"""


def _imported(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, list, list]:
    """Run the command line in a new process: (the process, heavy modules imported, branchline modules imported)."""
    out = cwd / "imported.json"
    probe = PROBE.format(out=str(out), heavy=HEAVY, argv=argv)
    proc = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    modules = json.loads(out.read_text())
    own = [m for m in modules if m.startswith("branchline")]
    return proc, [m for m in modules if m not in own], own


NOT_FOR_A_RUN = ("branchline.aws.deploy", "branchline.gate", "branchline.ci", "branchline.images", "branchline.checks")


@pytest.mark.parametrize("tracking", ["1", "0"])
def test_branchline_run_and_help_import_no_heavy_library(tmp_path: Path, tracking: str) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.branchline]\nproject = "light"\n')
    shutil.copy(FLOWS / "linear_flow.py", tmp_path / "flow.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BRANCHLINE_"))}
    env["BRANCHLINE_TRACKING"] = tracking  # on: the recorder (its own process) imports mlflow, the run does not
    proc, heavy, own = _imported(["branchline", "run", "flow.py", "--wait-tracking"], tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert "done LinearFlow/" in proc.stdout
    assert heavy == []
    assert [m for m in own if m.startswith(NOT_FOR_A_RUN)] == []  # only `run`'s own command module was loaded
    proc, heavy, own = _imported(["branchline", "--help"], tmp_path, env)
    assert proc.returncode == 0 and "deploy" in proc.stdout
    assert heavy == []
    assert "branchline.ci.jobs" in own  # --help lists every command: all their modules were loaded
