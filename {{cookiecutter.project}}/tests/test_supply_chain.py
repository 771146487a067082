"""The supply chain stays pinned: one platform revision, a hashed lock, one base image digest.

Dependabot updates requirements.txt and .github/base-image/Dockerfile; these tests say what else must
follow (see README.md, "Supply chain").
"""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_the_step_image_uses_the_base_image_dependabot_watches():
    pinned = re.search(r"^ARG BASE_IMAGE=(\S+)$", _text("Dockerfile"), re.MULTILINE).group(1)
    watched = re.search(r"^FROM (\S+)$", _text(".github/base-image/Dockerfile"), re.MULTILINE).group(1)
    assert re.fullmatch(r"\S+@sha256:[0-9a-f]{64}", watched), "the base image must be pinned by digest"
    assert pinned == watched, f"copy the base image Dependabot proposed into the Dockerfile: ARG BASE_IMAGE={watched}"


def test_pyproject_and_the_lock_inputs_pin_the_same_platform():
    def platform(lines):
        return [line.split("]", 1)[1].strip() for line in lines if line.startswith("branchline[")]

    dependencies = tomllib.loads(_text("pyproject.toml"))["project"]["dependencies"]
    inputs = _text("requirements.in").splitlines()
    assert platform(dependencies) == platform(inputs), "pin the same platform in pyproject.toml and requirements.in"


def test_every_locked_requirement_is_pinned_with_hashes():
    entries = re.split(r"\n(?=[A-Za-z0-9])", _text("requirements.txt"))
    pins = [entry for entry in entries if re.match(r"[A-Za-z0-9]", entry)]
    assert pins, "requirements.txt is the lock: run pip-compile"
    for entry in pins:
        assert re.match(r"[A-Za-z0-9._-]+==\S+ \\", entry), entry.splitlines()[0]
        assert "--hash=sha256:" in entry, f"{entry.splitlines()[0]} has no hash"
    assert not [entry for entry in pins if entry.startswith("branchline")], "the platform is installed after the lock"
