"""`branchline promote`: the promotion gate from the command line (CI's dry run on PRs, the release, a human).

Exit code 0 when the gate passes (and, unless --dry-run, `champion` moved), 1 when it fails or cannot run.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from branchline.config import load_config
from branchline.gate import promote as gate
from branchline.gate.report import to_json

console = Console(highlight=False)


def register(app: typer.Typer) -> None:
    @app.command(help="Judge a model version with the flow's gate; move the MLflow alias `champion` on pass "
                      "(production only; --local on this machine's store, --dry-run anywhere).\n\n"
                      "Example: branchline promote --local")
    def promote(
        flow: str = typer.Option(None, "--flow", help="Flow whose [tool.branchline.gates.<flow>] applies"),
        run_id: str = typer.Option(None, "--run-id", help="The flow run whose registered version is the candidate"),
        version: int = typer.Option(None, "--version", help="The candidate model version"),
        model: str = typer.Option(None, "--model", help="Registered model name (default: the gate's `model`)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="Evaluate and report; move and tag nothing"),
        namespace: str = typer.Option(
            None, "--namespace", help="Namespace (default: the run's, $BRANCHLINE_NAMESPACE)"
        ),
        rollback: bool = typer.Option(False, "--rollback", help="Move `champion` back to the previous champion"),
        local: bool = typer.Option(
            False, "--local", help="Judge your own latest local version and move champion in this machine's store"
        ),
        project_dir: Path = typer.Option(Path("."), "--project-dir", help="The project (with pyproject.toml)"),
        json_out: Path = typer.Option(None, "--json", help="Also write the report JSON to this file"),
    ) -> None:
        config = load_config(project_dir)
        if rollback:
            if run_id or version is not None or dry_run or local:
                raise gate.GateRefused("--rollback takes only --flow, --model and --namespace")
            done = gate.rollback(flow=flow, model=model, namespace=namespace, config=config)
            console.print(f"rolled back {done.model}@champion: v{done.from_version} -> v{done.to_version}")
            return
        outcome = gate.run_gate(
            flow=flow,
            run_id=run_id,
            version=version,
            model=model,
            dry_run=dry_run,
            namespace=namespace,
            config=config,
            console=console,
            local=local,
        )
        if json_out is not None:
            json_out.write_text(to_json(outcome.report))
        if not outcome.passed:
            raise gate.GateFailed(f"promotion gate of {outcome.report['flow']} failed: {outcome.verdict.summary}")
