"""`branchline ci pr | release | cleanup | prune`: the logic of the GitHub Actions jobs.

Each command reads the runner's `GITHUB_*` environment; the workflows only wire triggers, permissions,
AWS auth and concurrency. The work is in `branchline.ci.jobs`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from branchline.aws.deploy.lock import Superseded
from branchline.ci.jobs import PrOptions, ci_cleanup, ci_pr, ci_prune, ci_release

log = Console(stderr=True, highlight=False, soft_wrap=True)  # progress and plans; stdout carries only results

_IMAGE = typer.Option(None, "--image", help="Step image pinned by digest (REPO@sha256:...), e.g. from an earlier job.")
_SKIP_IMAGE = typer.Option(False, "--skip-image",
                           help="Build nothing: use the existing image of the current dependency hash.")


@contextmanager
def _superseded_is_done() -> Iterator[None]:
    """A deploy older than the namespace's last one did nothing, on purpose: say so and succeed."""
    try:
        yield
    except Superseded as exc:
        log.print(f"superseded: {exc}", markup=False)


def register(app: typer.Typer) -> None:
    ci = typer.Typer(help="GitHub Actions jobs: deploy a PR's namespace, release prod, clean up, prune.\n\n"
                          "Example (in a workflow): branchline ci pr --skip-image",
                     no_args_is_help=True)
    app.add_typer(ci, name="ci")

    @ci.command(help="pull_request: publish image + code package, deploy the branch namespace, comment on the PR."
                     "\n\nExample (in a workflow): branchline ci pr")
    def pr(
        image: str = _IMAGE,
        skip_image: bool = _SKIP_IMAGE,
        smoke: bool = typer.Option(False, "--smoke", help="Run with \\[tool.branchline.ci] smoke_params; wait."),
        smoke_flow: str = typer.Option(None, "--smoke-flow", help="Flow of the smoke run (default: smoke_flow)."),
        smoke_timeout: float = typer.Option(None, "--smoke-timeout", help="Seconds to wait (default: smoke_timeout)."),
        comment: bool = typer.Option(True, "--comment/--no-comment", help="Write the PR comment (needs GITHUB_TOKEN)."),
    ) -> None:
        options = PrOptions(image=image, skip_image=skip_image, smoke=smoke, smoke_flow=smoke_flow,
                            smoke_timeout=smoke_timeout, comment=comment)
        with _superseded_is_done():
            outcome = ci_pr(os.environ, options, log)
            print(outcome.namespace)

    @ci.command(help="push to the production branch: deploy prod (new version, `live` moved to it).\n\n"
                     "Example (in a workflow): branchline ci release")
    def release(image: str = _IMAGE, skip_image: bool = _SKIP_IMAGE) -> None:
        with _superseded_is_done():
            outcome = ci_release(os.environ, PrOptions(image=image, skip_image=skip_image, comment=False), log)
            print(outcome.markdown, end="")

    @ci.command(help="pull_request closed: tear down that pull request's namespace (never prod).\n\n"
                     "Example (in a workflow): branchline ci cleanup --dry-run")
    def cleanup(dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; delete nothing.")) -> None:
        ci_cleanup(os.environ, log, dry_run=dry_run)

    @ci.command(help="Remove branch namespaces whose branch no longer exists (git ls-remote, or --branches-file)."
                     "\n\nExample: branchline ci prune --remote origin --dry-run")
    def prune(
        branches_file: Path = typer.Option(None, "--branches-file", help="Existing branches, one per line."),
        remote: str = typer.Option("origin", "--remote", help="Git remote to list branches from."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be removed; delete nothing."),
    ) -> None:
        outcome = ci_prune(os.environ, log, branches_file=branches_file, dry_run=dry_run, remote=remote)
        for namespace in outcome.removed:
            print(namespace)
