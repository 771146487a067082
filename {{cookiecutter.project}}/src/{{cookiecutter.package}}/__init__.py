"""{{ cookiecutter.project_name }}: the project's own code (data loading, features, model), imported by the flows.

Flows stay thin (orchestration, tracking, checks); the logic lives here, where `tests/` can test it directly.
"""

__version__ = "0.1.0"
