"""The generated project the end-to-end path deploys: the real template, rendered, plus a small flow.

Why a dedicated flow rather than the template's sample flow: the sample flow's image needs mlflow, Great
Expectations, scikit-learn and pandas (a 209 MB wheelhouse, several minutes of image build on 2 cores), and the
e2e must show more shapes than the sample has: a foreach fanning out into several containers and a step that
fails on demand. The flow imports the project's own package (``src/<package>``) so the code package is shown
to carry it. The step image is built from the template's own Dockerfile and .dockerignore, with a trimmed
``requirements.in`` (branchline, pinned to this checkout, and its ``aws`` extra) and a hashed lock of its wheels,
installed offline from a wheelhouse.

The step containers learn where "AWS" is (the moto endpoint and its dummy credentials) from
``[tool.branchline.aws.job_environment]``, which the deployer puts into every job definition.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.template.rendering import REPO_ROOT, render
from tests.testbed.servers import TEST_CREDENTIALS

FLOW_CLASS = "E2EFlow"
FLOW_FILE = "flows/e2e_flow.py"
FAILING_STEP = "validate"
REQUIREMENTS = "# Trimmed for the end-to-end test: the platform and its AWS extra only.\nbranchline[aws]\n"
FULL_EXTRAS = ("aws", "tracking", "checks")
"""The extras the template's requirements.txt installs (the sample flow's MLflow and GX)."""

FANOUT_STEPS = '''MARKER = "__MARKER__"


class E2EFlow(FlowSpec):
    count = Parameter("count", default=3, help="foreach width")
    fail = Parameter("fail", default=False, help="make the validate step raise")

    @step
    def start(self):
        self.items = list(range(self.count))
        print(f"e2e start items={self.items} marker={MARKER}")
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = square(self.input)
        print(f"e2e square {self.input} -> {self.value}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(inp.value for inp in inputs)
        self.total = sum(self.values)
        print(f"e2e join values={self.values}")
        self.next(self.validate)
'''
"""The flow's class up to its join (the module needs `FlowSpec`, `Parameter`, `step` and `square`); the act
series' flow (tests/act/flow.py) shares it and ends differently."""

_FLOW = '''"""The end-to-end flow: a foreach over `count` items, a join, and a step that fails when asked."""

from branchline import FlowSpec, Parameter, step

from __PACKAGE__.e2e_math import square

''' + FANOUT_STEPS + '''
    @step
    def validate(self):
        if self.fail:
            raise RuntimeError("e2e validate refused the run (fail=True)")
        self.next(self.end)

    @step
    def end(self):
        self.marker = MARKER
        print(f"e2e end total={self.total} marker={MARKER}")
'''

_HELPER = '''"""Project code the e2e flow imports: it reaches the container only through the code package."""


def square(value: int) -> int:
    return value * value
'''


@dataclass(frozen=True)
class Infra:
    """What the platform's CloudFormation stack would provide: roles, a shared queue, the bucket."""

    states_role_arn: str
    job_role_arn: str
    job_queue: str
    bucket: str


def job_environment(endpoint: str) -> dict[str, str]:
    """What a step container needs to reach moto: the endpoint and moto's dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
    }


def flow_source(package: str, marker: str, template: str = _FLOW) -> str:
    """The e2e flow's source (or another `template` with its placeholders); `marker` is what a code-only change
    changes."""
    return template.replace("__PACKAGE__", package).replace("__MARKER__", marker)


def git(project: Path, *args: str) -> str:
    """git in the project, with a fixed identity and no variables pointing at another repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="e2e", GIT_AUTHOR_EMAIL="e2e@localhost", GIT_COMMITTER_NAME="e2e",
               GIT_COMMITTER_EMAIL="e2e@localhost")  # fmt: skip
    done = subprocess.run(["git", *args], cwd=project, env=env, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {project}: {done.stderr.strip()}")
    return done.stdout.strip()


def commit_all(project: Path, message: str) -> str:
    """Commit everything (the code package is what git tracks); the new HEAD sha."""
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(project, "rev-parse", "HEAD")


PLATFORM_SOURCE = f"branchline @ {(REPO_ROOT / 'platform').as_uri()}"
"""The platform pin of the e2e project: this checkout (the image gets its wheel, built from the pin)."""


def render_project(out: Path) -> Path:
    """The template rendered by the real cookiecutter and hooks, with a unique slug and bucket."""
    slug = f"e2e-{uuid.uuid4().hex[:6]}"
    return render(out, project_name=slug, artifact_bucket=f"{slug}-data", aws_region="us-east-1",
                  branchline_source=PLATFORM_SOURCE)


def _set_toml_keys(text: str, table: str, values: Mapping[str, str]) -> str:
    """Set string keys in one table of pyproject.toml, keeping the file's layout (replace, else add)."""
    header = f"[{table}]\n"
    start = text.index(header) + len(header)
    following = re.search(r"^\[", text[start:], flags=re.MULTILINE)
    end = start + following.start() if following else len(text)
    body = text[start:end]
    for key, value in values.items():
        line = f"{key} = {_toml_string(value)}"
        body, count = re.subn(rf"^{re.escape(key)}\s*=.*$", line, body, flags=re.MULTILINE)
        if not count:
            body = f"{line}\n{body}"
    return text[:start] + body + text[end:]


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def configure(project: Path, infra: Infra, endpoint: str) -> None:
    """Point `[tool.branchline]` at the e2e flow and the moto infra (what `branchline infra` outputs)."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = re.sub(r"^flows = .*$", f'flows = ["{FLOW_FILE}"]', text, count=1, flags=re.MULTILINE)
    text = _set_toml_keys(
        text,
        "tool.branchline.aws",
        {"states_role_arn": infra.states_role_arn, "job_role_arn": infra.job_role_arn, "job_queue": infra.job_queue,
         "bucket": infra.bucket, "region": "us-east-1"},
    )  # fmt: skip
    env = "".join(f"{key} = {_toml_string(value)}\n" for key, value in sorted(job_environment(endpoint).items()))
    text += f"\n[tool.branchline.aws.job_environment]\n{env}"
    pyproject.write_text(text, encoding="utf-8")


def package_name(project: Path) -> str:
    import tomllib

    return str(tomllib.loads((project / "pyproject.toml").read_text())["tool"]["branchline"]["package"])


def write_flow(project: Path, endpoint: str, marker: str) -> None:
    """The e2e flow and the project code it imports (src/<package>)."""
    package = package_name(project)
    src = project / "src" / package
    src.mkdir(parents=True, exist_ok=True)
    if not (src / "__init__.py").exists():
        (src / "__init__.py").write_text('"""The project\'s own code."""\n', encoding="utf-8")
    (src / "e2e_math.py").write_text(_HELPER, encoding="utf-8")
    (project / FLOW_FILE).parent.mkdir(exist_ok=True)
    (project / FLOW_FILE).write_text(flow_source(package, marker), encoding="utf-8")


def platform_wheel(dest: Path) -> Path:
    """A wheel of /work/main/platform (branchline itself), built with pip; the image installs it offline."""
    dest.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest),
         str(REPO_ROOT / "platform")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"building the branchline wheel failed:\n{done.stderr[-3000:]}")
    return next(dest.glob("branchline-*.whl"))


def template_requirements(project: Path) -> str:
    """The rendered template's own requirements.txt with branchline as a plain name (its wheel is local)."""
    lines = (project / "requirements.txt").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.strip() and not line.startswith(("#", "branchline"))]
    return "\n".join([f"branchline[{','.join(FULL_EXTRAS)}]", *kept]) + "\n"


def third_party_requirements(requirements_txt: str) -> list[str]:
    """What the wheelhouse must hold besides branchline: its dependencies (with the extras named) + the rest."""
    import tomllib

    platform = tomllib.loads((REPO_ROOT / "platform" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = [line.strip() for line in requirements_txt.splitlines() if line.strip() and not line.startswith("#")]
    extras = next((re.findall(r"\w+", line[line.index("[") :]) for line in lines if line.startswith("branchline[")), [])
    optional = platform.get("optional-dependencies", {})
    own = [line for line in lines if not line.startswith("branchline")]
    return [*platform["dependencies"], *(req for name in extras for req in optional.get(name, [])), *own]


def pinned_inputs(requirements_txt: str) -> str:
    """requirements.in of the trimmed set: the `branchline[...]` line pinned to this checkout."""
    lines = [f"{line} @ {PLATFORM_SOURCE.split(' @ ', 1)[1]}" if line.startswith("branchline") else line
             for line in requirements_txt.splitlines()]
    return "\n".join(lines) + "\n"


def hashed_lock(third_party: Path) -> str:
    """A lock of exactly the wheelhouse's wheels, each with its sha256 (what pip-compile would hash)."""
    import hashlib

    from packaging.utils import parse_wheel_filename

    pins = {}
    for wheel in sorted(third_party.glob("*.whl")):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        pins.setdefault(f"{name}=={version}", []).append(hashlib.sha256(wheel.read_bytes()).hexdigest())
    return "".join(f"{pin} {' '.join(f'--hash=sha256:{h}' for h in hashes)}\n" for pin, hashes in pins.items())


def fill_wheelhouse(project: Path, branchline_wheel: Path, third_party: Path) -> Path:
    """`<project>/wheelhouse/`: branchline's wheel + its dependencies' (git ignores it: not in the code package)."""
    wheels = project / "wheelhouse"
    wheels.mkdir(exist_ok=True)
    for wheel in [branchline_wheel, *third_party.glob("*.whl")]:
        shutil.copy2(wheel, wheels / wheel.name)
    return wheels


def prepare(
    project: Path, infra: Infra, endpoint: str, branchline_wheel: Path, third_party: Path, requirements: str
) -> str:
    """Everything between render and publish; returns the commit the first deploy ships."""
    configure(project, infra, endpoint)
    (project / "requirements.in").write_text(pinned_inputs(requirements), encoding="utf-8")
    (project / "requirements.txt").write_text(hashed_lock(third_party), encoding="utf-8")
    write_flow(project, endpoint, marker="v1")
    fill_wheelhouse(project, branchline_wheel, third_party)
    return commit_all(project, "e2e: flow, trimmed requirements, moto infra")
