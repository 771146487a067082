"""Flow parameters: `Parameter` and `IncludeFile`, typed from their defaults like Metaflow's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from branchline.errors import FlowError

JSONType = "json"
"""Metaflow's `Parameter(..., type=JSONType)`: the value is parsed as JSON."""

_TYPES: dict[type, str] = {str: "str", int: "int", float: "float", bool: "bool", dict: "json", list: "json"}


def _type_name(explicit: Any, default: Any) -> str:
    if explicit is not None:
        if explicit is json or explicit == "json" or explicit is dict or explicit is list:
            return "json"
        if explicit in _TYPES:
            return _TYPES[explicit]
        raise TypeError(f"Parameter type must be str, int, float, bool or JSON, not {explicit!r}")
    value = default() if callable(default) else default
    if value is None:
        return "str"
    return _TYPES.get(type(value), "str")


def convert(type_name: str, raw: Any, name: str) -> Any:
    """Turn a command-line string (or a JSON value from an execution input) into the typed value."""
    if raw is None:
        return None
    try:
        if type_name == "bool":
            if isinstance(raw, bool):
                return raw
            lowered = str(raw).strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "json":
            return json.loads(raw) if isinstance(raw, str) else raw
        return str(raw)
    except (ValueError, TypeError):
        raise FlowError(f"parameter --{name}: {raw!r} is not a valid {type_name}") from None


class Parameter:
    """A value given when the run starts (`--name value`), readable as `self.name` in every step."""

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,
        help: str = "",
        required: bool = False,
        show_default: bool = True,
    ) -> None:
        self.name = name
        self.default = default
        self.type_name = _type_name(type, default)
        self.help = help
        self.required = required
        self.show_default = show_default
        self.attr: str | None = None

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        values = instance.__dict__.get("_bl_params")
        if values is None:
            return self
        return values.get(self.name)

    def default_value(self) -> Any:
        value = self.default() if callable(self.default) else self.default
        return convert(self.type_name, value, self.name) if value is not None else None

    def resolve(self, raw: Any) -> Any:
        """The value for a run: the given one, else the default; a missing required one is an error."""
        if raw is None:
            value = self.default_value()
            if value is None and self.required:
                raise FlowError(f"parameter --{self.name} is required", hint=f"pass --{self.name} VALUE")
            return value
        return convert(self.type_name, raw, self.name)


class IncludeFile(Parameter):
    """A local file whose content is read when the run starts and stored with the run."""

    def __init__(
        self,
        name: str,
        default: str | None = None,
        help: str = "",
        required: bool = False,
        is_text: bool = True,
        encoding: str = "utf-8",
    ) -> None:
        super().__init__(name, default=default, type=str, help=help, required=required)
        self.type_name = "file"
        self.is_text = is_text
        self.encoding = encoding

    def default_value(self) -> Any:
        return self.default

    def resolve(self, raw: Any) -> Any:
        path = raw if raw is not None else self.default
        if path is None:
            if self.required:
                raise FlowError(f"parameter --{self.name} is required", hint=f"pass --{self.name} PATH")
            return None
        file = Path(str(path)).expanduser()
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise FlowError(f"parameter --{self.name}: cannot read {file}: {exc.strerror}") from None
        if not self.is_text:
            return data
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError:
            raise FlowError(
                f"parameter --{self.name}: {file} is not {self.encoding} text",
                hint="use IncludeFile(..., is_text=False) for binary files",
            ) from None


def declared_parameters(flow_cls: type) -> list[Parameter]:
    """The Parameters a flow class declares, its bases' included (a subclass's redefinition wins)."""
    seen: dict[str, Parameter] = {}
    for klass in reversed(flow_cls.__mro__):
        for value in vars(klass).values():
            if isinstance(value, Parameter):
                seen[value.name] = value
    return list(seen.values())
