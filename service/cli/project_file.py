"""``judgeserve.yaml``: a CI run's settings checked into the repository, read by ``judgeserve run``.

Found from the working directory upwards (or named with ``--config``). String values may use ``${NAME}``
(an environment variable; an unset one is an error) and ``${NAME:-default}``. A bad key or value is a
``ProjectFileError`` naming the key and its line in the file. Paths (``outputs``, ``reports``) are relative to
the file's directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.core.protocols import DEFAULT_PROTOCOL
from service.core.tags import Tags

FILE_NAME = "judgeserve.yaml"
ALTERNATIVE_NAMES = (FILE_NAME, "judgeserve.yml")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ProjectFileError(Exception):
    """A project file that cannot be used: the message names the file, the key and its line."""


class LatestBaseline(BaseModel):
    """The gate's baseline found by query (``POST /v1/comparisons`` ``baseline.latest``)."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(default=None, min_length=1)
    tags: Tags = Field(default_factory=dict)
    leaderboard: bool | None = None


class BaselineQuery(BaseModel):
    """``{latest: {...}}``: the newest completed evaluation like the candidate that matches."""

    model_config = ConfigDict(extra="forbid")
    latest: LatestBaseline


class GateSettings(BaseModel):
    """The regression gate: a baseline (an evaluation id or ``{latest: {...}}``), margin, alpha and rule."""

    model_config = ConfigDict(extra="forbid")
    against: str | BaselineQuery = Field(
        description="An evaluation id, `latest:model=NAME,tag=branch=main`, or {latest: {model, tags, leaderboard}}.")
    margin: float = Field(default=0.0, ge=0.0)
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    rule: Literal["bound", "bound_or_significant"] | None = None


class ReportSettings(BaseModel):
    """Where to write the reports CI systems read."""

    model_config = ConfigDict(extra="forbid")
    markdown: str | None = None
    junit: str | None = None


class ProjectFile(BaseModel):
    """What ``judgeserve.yaml`` may hold; every key is optional here (``run`` checks what it needs)."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    judge: str | None = None
    protocol: str = DEFAULT_PROTOCOL
    suite: str | None = None
    suite_version: int | None = Field(default=None, ge=1)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    baseline_model: str | None = None
    outputs: str | None = Field(default=None, description="The outputs file (JSONL items, or format's file).")
    format: Literal["items", "alpacaeval", "fastchat"] = "items"
    options: dict[str, Any] = Field(default_factory=dict)
    tags: Tags = Field(default_factory=dict)
    leaderboard: bool = True
    fail_under: float | None = None
    gate: GateSettings | None = None
    timeout: float = Field(default=3600.0, gt=0)
    reports: ReportSettings = Field(default_factory=ReportSettings)

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_values_as_text(cls, value: Any) -> Any:
        """YAML reads ``pr: 123`` or ``release: 2.1`` as numbers; a tag is their text."""
        if isinstance(value, dict):
            return {k: str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, (int, float)) else v
                    for k, v in value.items()}
        return value


def find(start: Path | None = None) -> Path | None:
    """The nearest project file in ``start`` (default: the working directory) or a parent directory."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        for name in ALTERNATIVE_NAMES:
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def load(path: Path, environ: Mapping[str, str] | None = None) -> ProjectFile:
    """The project file at ``path``, ``${...}`` interpolated and validated; ProjectFileError naming key and line."""
    import yaml  # the CLI's only YAML use; imported here so `judgeserve --help` stays light

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectFileError(f"{path}: cannot read it ({exc})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ProjectFileError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    lines = _key_lines(root)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProjectFileError(f"{path} line 1: expected a mapping of settings (key: value), got "
                               f"{type(data).__name__}")
    data = _interpolate(data, (), environ if environ is not None else os.environ, path, lines)
    try:
        return ProjectFile.model_validate(data)
    except ValidationError as exc:
        errors = _without_union_noise(exc.errors())
        raise ProjectFileError("\n".join(_problem(path, error, lines) for error in errors[:20])) from None


def resolve_path(project_file: Path | None, value: str) -> Path:
    """A path from the file, relative to the file's directory (absolute paths as they are)."""
    path = Path(value)
    return path if path.is_absolute() or project_file is None else project_file.parent / path


def _key_lines(node: Any, path: tuple = ()) -> dict[tuple, int]:
    """1-based line of every key path in the composed YAML (``("gate", "margin")`` → 7)."""
    import yaml

    lines: dict[tuple, int] = {path: node.start_mark.line + 1} if node is not None else {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            where = (*path, key.value)
            lines[where] = key.start_mark.line + 1
            lines.update({k: v for k, v in _key_lines(value, where).items() if k != where})
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            lines.update(_key_lines(value, (*path, index)))
    return lines


def _interpolate(value: Any, path: tuple, environ: Mapping[str, str], file: Path, lines: dict[tuple, int]) -> Any:
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ProjectFileError(f"{file} line {_line(path, lines)}: {_dotted(path)}: environment variable {name} "
                                   f"is not set (write ${{{name}:-default}} for a default)")
        return _VARIABLE.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), environ, file, lines) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), environ, file, lines) for i, v in enumerate(value)]
    return value


# the tags pydantic puts in an error's location for the member of a union it tried
_UNION_MEMBERS = ("str", "BaselineQuery")


def _without_union_noise(errors: list[Any]) -> list[Any]:
    """For ``against: {latest: ...}`` pydantic also reports "not a valid string": keep the member the value is."""
    def field(error: Any) -> tuple:
        loc = error["loc"]
        return next((loc[:i] for i, part in enumerate(loc) if part in _UNION_MEMBERS), loc)
    deeper = {field(e) for e in errors if "BaselineQuery" in e["loc"]}
    return [e for e in errors if not ("str" in e["loc"] and field(e) in deeper)]


def _problem(file: Path, error: Mapping[str, Any], lines: dict[tuple, int]) -> str:
    path = tuple(part for part in error["loc"] if part not in _UNION_MEMBERS)
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = f"unknown key (allowed here: {', '.join(_allowed(path[:-1]))})"
    return f"{file} line {_line(path, lines)}: {_dotted(path) or '(top level)'}: {message}"


def _allowed(path: tuple) -> list[str]:
    model: Any = ProjectFile
    for part in path:
        field = model.model_fields.get(part) if isinstance(part, str) and hasattr(model, "model_fields") else None
        if field is None:
            return list(LatestBaseline.model_fields) if part == "latest" else []
        annotation = field.annotation
        model = next((a for a in getattr(annotation, "__args__", (annotation,))
                      if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)


def _line(path: tuple, lines: dict[tuple, int]) -> int:
    """The line of ``path``, or of its nearest parent the file has."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def _dotted(path: tuple) -> str:
    return ".".join(str(part) for part in path)
