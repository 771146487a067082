"""`branchline image publish|hash`: the step image, by dependency hash, referenced by digest."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from branchline.config import load_config
from branchline.errors import ConfigError
from branchline.images.publish import dependency_hash, hash_inputs, image_tag
from branchline.images.publish import publish as do_publish

console = Console(highlight=False, stderr=True)  # logs; stdout carries only the result


def register(app: typer.Typer) -> None:
    image = typer.Typer(help="Build and publish the step image (dependencies only; code travels separately).\n\n"
                        "Example: branchline image publish --repository REGISTRY/proj")
    app.add_typer(image, name="image")

    @image.command(help="Print the dependency hash and the tag it gives (and, on stderr, what it covers).\n\n"
                        "Example: branchline image hash --project-dir .")
    def hash(project_dir: Path = typer.Option(Path("."), "--project-dir", help="The project (with pyproject.toml)."),
             build_arg: list[str] = typer.Option([], "--build-arg", help="KEY=VALUE, repeatable")) -> None:
        root = project_dir.resolve()
        inputs = hash_inputs(root, _build_args(build_arg))
        for key, value in sorted(inputs.items()):
            console.print(f"{key.lstrip('@')}: {value}", markup=False)
        value = dependency_hash(root, extra=inputs)
        print(f"{value}  {image_tag(value)}")

    @image.command(help="Build and push repo:deps-<hash> unless the registry has it; print the digest reference.\n\n"
                        "Example: branchline image publish --repository REGISTRY/proj")
    def publish(
        project_dir: Path = typer.Option(Path("."), "--project-dir", help="The project (with pyproject.toml)."),
        repository: str = typer.Option(None, "--repository", help="Default: tool.branchline.aws.image_repository"),
        build_arg: list[str] = typer.Option([], "--build-arg", help="KEY=VALUE, repeatable"),
        force: bool = typer.Option(False, "--force", help="Build and push even if the tag exists."),
    ) -> None:
        config = load_config(project_dir)
        repo = repository or config.require("aws.image_repository")
        result = do_publish(
            config.root, repo, build_args=_build_args(build_arg), force=force,
            log=lambda line: console.print(line, markup=False),
        )
        state = "built and pushed" if result.built else "reused (dependencies unchanged)"
        console.print(f"{state}: {result.reference}", markup=False)
        print(result.reference)


def _build_args(items: list[str]) -> dict[str, str]:
    args = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--build-arg {item!r}: expected KEY=VALUE")
        args[key] = value
    return args
