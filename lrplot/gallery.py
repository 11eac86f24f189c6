"""Render a gallery from a YAML config: one image per entry, README.md, index.html, contact sheet.

The config is YAML 1.2 plain data (no tags, anchors, aliases or merge keys; no repeated
keys; at most 1 MB). ``entries`` maps an entry name (its file name: ``[A-Za-z0-9_.-]``, not
starting with a dot, unique ignoring case) to one of three kinds of entry::

    defaults:                    # optional; every entry inherits these unless it sets them
      lr: 0.1                    # or a list, one param group (curve) per value
      epochs: 100
      steps_per_epoch: 1
      step_per: epoch            # epoch | iter (default: iter for cyclic/onecycle)
      optimizer: sgd             # sgd | adam | adamw
      warmup: 0                  # and warmup_start_factor
      formats: [png, svg]        # png svg pdf; a --format other than png,svg overrides it
      log: false                 # log lr axis
      x: epoch                   # epoch | step
      momentum: false            # add the momentum/beta1 panel
      annotate: true             # draw the diagnostics on the image
    entries:
      cosine-short:              # a single schedule
        scheduler: cosine        # alias, torch class name, or module:Name (--allow-import)
        kwargs: {T_max: 20}      # torch's own kwarg names; typed from the signature
        epochs: 150              # run options, as in defaults (plus metric for plateau)
        title: T_max shorter than the run
        description: One sentence for README.md and index.html.
      three-ways:                # a comparison: SPEC strings and/or mappings
        compare:
          - cosine:T_max=100
          - {scheduler: step, kwargs: {step_size: 30}, label: step 30}
        layout: overlay          # overlay | grid
        epochs: 100
      cosine-tmax:               # a sweep: one kwarg (overlay) or two (grid), <= 12 values
        scheduler: cosine
        kwargs: {eta_min: 0.001}
        sweep: {T_max: [25, 50, 100]}

Nested ``schedulers`` (sequential, chained) are SPEC strings or ``{scheduler, kwargs}``
mappings. Every problem is reported as ``file:line:col: entry 'name': field: message``;
a file-level problem raises ``ConfigError`` and a bad entry is skipped while the others
render (the run then exits 1).

Example:
    >>> check_name("cosine-150")
    >>> check_name("../x")
    Traceback (most recent call last):
    ...
    ValueError: entry names may only use letters, digits, '_', '.' and '-'; got '../x'
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shlex
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from lrplot import registry
from lrplot.errors import ConfigError, LrplotError, OutputError, UsageError
from lrplot.spec import (
    RUN_KEYS,
    ScheduleSpec,
    make_spec,
    metric_values,
    parse_spec,
    parse_value,
    scheduler_info,
    split_top,
)

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["MAX_BYTES", "Entry", "Gallery", "check_name", "load", "load_text", "parse_formats",
           "render_entry", "run"]

#: the largest config file accepted, in bytes.
MAX_BYTES = 1_000_000
#: the most optimizer steps one entry may simulate (all its curves together).
MAX_STEPS = 10_000_000
#: the deepest nesting of mappings and lists accepted.
MAX_DEPTH = 20
FORMATS = ("png", "svg", "pdf")
DEFAULT_FORMATS = "png,svg"
README, INDEX, SHEET = "README.md", "index.html", "contact-sheet.png"
#: where the contact-sheet cells go in the staging directory, and their width in pixels.
THUMBS, THUMB_PX = ".thumbs", 480
_RESERVED = {"readme", "index", "contact-sheet"}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_SPEC_NAME = re.compile(r"([A-Za-z_][\w.]*:[A-Za-z_]\w*|[A-Za-z_][\w-]*)(?::(?P<rest>.*))?$",
                        re.S)
_SWEEP_RUN_KEYS = ("lr", "epochs", "steps_per_epoch", "step_per", "optimizer", "warmup",
                   "warmup_start_factor")
_CORE_TAG = "tag:yaml.org,2002:"

Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------- errors


class _Problem(Exception):
    """A problem at a place in the config: ``path`` of keys and indices, and a message."""

    def __init__(self, path: Path_, message: str, *, at_key: bool = False) -> None:
        super().__init__(message)
        self.path, self.message, self.at_key = path, message, at_key


def _dotted(path: Iterable[str | int]) -> str:
    """Return ``kwargs.T_max`` / ``compare[1].kwargs`` for a path of keys and indices."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class _Source:
    """The config text's name and where each key and value sits (0-based line, column)."""

    label: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path_, *, at_key: bool = False) -> str:
        """Return ``label:line:col`` (1-based) of a key or value, or of its nearest parent."""
        for end in range(len(path), -1, -1):
            sub = path[:end]
            table = self.keys if at_key or end < len(path) else self.values
            found = table.get(sub) or self.values.get(sub) or self.keys.get(sub)
            if found:
                return f"{self.label}:{found[0] + 1}:{found[1] + 1}"
        return f"{self.label}:1:1"


def check_name(name: str) -> None:
    """Raise ValueError unless ``name`` is a safe, plain file name for an entry."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(
            f"entry names may only use letters, digits, '_', '.' and '-'; got {name!r}"
        )
    if not _NAME.fullmatch(name):
        raise ValueError(f"entry names may not start with '.' or '-'; got {name!r}")
    if len(name) > 100:
        raise ValueError(f"entry name is {len(name)} characters long; at most 100")
    if name.endswith("."):
        raise ValueError(f"entry names may not end with '.'; got {name!r}")
    if name.lower() in _RESERVED:
        raise ValueError(f"'{name}' is reserved for the gallery's own {name.lower()} file")


# --------------------------------------------------------------------------- YAML


def _read(path: Path) -> str:
    """Read a config as UTF-8 text, refusing files over ``MAX_BYTES``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: the config is larger than {MAX_BYTES:,} bytes",
                          hint="split it into several configs")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: the config is not UTF-8 text ({exc.reason} at "
                          f"byte {exc.start})") from None


def _yaml_error(exc: Exception, label: str) -> ConfigError:
    """Turn a ruamel error into a ``ConfigError`` that names the line and column."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label
    text = " ".join(str(problem).split())
    if type(exc).__name__ == "DuplicateKeyError":
        first = getattr(exc, "context_mark", None)
        text = f"duplicate key: {text}" + (
            f" (the mapping starts at line {first.line + 1})" if first is not None else "")
    elif context and context not in text:
        start = getattr(exc, "context_mark", None)
        since = (f" (from {start.line + 1}:{start.column + 1})"
                 if start is not None and mark is not None and start.line != mark.line else "")
        text = f"{' '.join(str(context).split())}{since}: {text}"
    return ConfigError(f"{where}: YAML syntax error: {text}" if "duplicate" not in text
                       else f"{where}: {text}")


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE_TAG):] if tag.startswith(_CORE_TAG) else tag


def _scan(text: str, label: str) -> None:
    """Walk the YAML events and refuse what plain data does not need.

    Refused: anchors and aliases (``&a``/``*a``), every explicit tag (``!!python/...``,
    ``!foo``, even ``!!str``), merge keys (``<<``), keys that are lists or mappings, a
    ``%YAML`` version other than 1.2, more than one document, and deep nesting.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        DocumentStartEvent,
        MappingStartEvent,
        NodeEvent,
        ScalarEvent,
    )

    def fail(event: Any, message: str) -> ConfigError:
        mark = event.start_mark
        return ConfigError(f"{label}:{mark.line + 1}:{mark.column + 1}: {message}")

    stack: list[list[int]] = []  # [is mapping, items seen]
    documents = 0
    try:
        for event in YAML(typ="rt").parse(text):
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise fail(event, "a config holds one YAML document; found a second '---'")
                if event.version not in (None, (1, 2)):
                    version = ".".join(map(str, event.version))
                    raise fail(event, f"'%YAML {version}' is not supported; configs are "
                               "YAML 1.2 (remove the %YAML line)")
            if not isinstance(event, NodeEvent):
                if isinstance(event, CollectionEndEvent) and stack:
                    stack.pop()
                continue
            is_key = bool(stack) and stack[-1][0] == 1 and stack[-1][1] % 2 == 0
            if stack:
                stack[-1][1] += 1
            if isinstance(event, AliasEvent):
                raise fail(event, f"aliases (*{event.anchor}) are not allowed in a config; "
                           "write the value out")
            if event.anchor is not None:
                raise fail(event, f"anchors (&{event.anchor}) are not allowed in a config; "
                           "write each value out")
            tag = getattr(event, "tag", None)
            if tag is not None:
                raise fail(event, f"tag '{_tag_name(str(tag))}' is not allowed: a config is "
                           "plain data (numbers, text, true/false, lists, mappings)")
            if is_key and not isinstance(event, ScalarEvent):
                raise fail(event, "a mapping key must be plain text, not a list or mapping")
            if is_key and event.value == "<<" and event.style is None:
                raise fail(event, "merge keys (<<) are not allowed in a config; write the "
                           "keys out")
            if isinstance(event, CollectionStartEvent):
                stack.append([int(isinstance(event, MappingStartEvent)), 0])
                if len(stack) > MAX_DEPTH:
                    raise fail(event, f"the config nests deeper than {MAX_DEPTH} levels")
    except YAMLError as exc:
        raise _yaml_error(exc, label) from None


def _load_yaml(text: str, label: str) -> tuple[Any, _Source]:
    """Parse (after ``_scan``) and return plain Python data and its source positions."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    _scan(text, label)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        raise _yaml_error(exc, label) from None
    source = _Source(label)
    lc = getattr(data, "lc", None)
    if lc is not None:
        source.values[()] = (lc.line, lc.col)
    return _plain(data, (), source), source


def _plain(node: Any, path: Path_, source: _Source) -> Any:
    """Return ruamel's round-trip data as plain dict/list/str/int/float/bool/None."""
    from ruamel.yaml.scalarbool import ScalarBoolean

    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for key, value in node.items():
            sub = (*path, str(key))
            with contextlib.suppress(AttributeError, KeyError, IndexError, TypeError):
                source.keys[sub] = tuple(node.lc.key(key))  # type: ignore[attr-defined]
                source.values[sub] = tuple(node.lc.value(key))  # type: ignore[attr-defined]
            if not isinstance(key, str):
                raise ConfigError(f"{source.where(sub, at_key=True)}: key {key!r} is not text; "
                                  f"quote it: '{key}'")
            out[str(key)] = _plain(value, sub, source)
        return out
    if isinstance(node, list):
        items = []
        for i, value in enumerate(node):
            with contextlib.suppress(AttributeError, KeyError, IndexError, TypeError):
                source.values[(*path, i)] = tuple(node.lc.item(i))  # type: ignore[attr-defined]
            items.append(_plain(value, (*path, i), source))
        return items
    if isinstance(node, (bool, ScalarBoolean)):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


# --------------------------------------------------------------------------- models


def _lr(value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    if value is None:
        return None
    if not items or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0
                        for v in items):
        raise ValueError(f"expected a positive number or a list of them, got {value!r}")
    return [float(v) for v in items]


def _metric(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in items):
        raise ValueError("expected a number, a list of numbers, an expression of epoch or "
                         f"@file.csv[:column], got {value!r}")
    return ",".join(repr(float(v)) for v in items)


def _formats(value: Any) -> Any:
    if value is None:
        return None
    try:
        return parse_formats(value)
    except UsageError as exc:
        raise ValueError(exc.message) from None


PosInt = Annotated[int, Field(ge=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _RunFields(_Model):
    lr: Annotated[Any, BeforeValidator(_lr)] = None
    epochs: PosInt | None = None
    steps_per_epoch: PosInt | None = None
    step_per: Literal["epoch", "iter"] | None = None
    optimizer: Literal["sgd", "adam", "adamw"] | None = None
    warmup: Annotated[int, Field(ge=0)] | None = None
    warmup_start_factor: Annotated[float, Field(gt=0, le=1)] | None = None


class _LookFields(_Model):
    log: bool | None = None
    x: Literal["epoch", "step"] | None = None
    momentum: bool | None = None
    annotate: bool | None = None


class _Defaults(_RunFields, _LookFields):
    formats: Annotated[Any, BeforeValidator(_formats)] = None


class _Top(_Model):
    defaults: dict[str, Any] | None = None
    entries: dict[str, Any]


class _Common(_RunFields, _LookFields):
    title: str | None = None
    description: str | None = None
    metric: Annotated[Any, BeforeValidator(_metric)] = None


class _Single(_Common):
    scheduler: str
    kwargs: dict[str, Any] | None = None


class _Sweep(_Single):
    sweep: dict[str, list[Any]]


class _Compare(_Common):
    compare: list[Any] = Field(min_length=1, max_length=12)
    layout: Literal["overlay", "grid"] | None = None


class _Item(_RunFields):
    scheduler: str
    kwargs: dict[str, Any] | None = None
    label: str | None = None
    metric: Annotated[Any, BeforeValidator(_metric)] = None


class _Sub(_Model):
    scheduler: str
    kwargs: dict[str, Any] | None = None


def _validate(model: type[_Model], data: Any, path: Path_) -> Any:
    """Validate ``data`` with a pydantic model; raise one ``_Problem`` per entry of errors."""
    if not isinstance(data, dict):
        raise _Problem(path, f"expected a mapping, got {_kind(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_pydantic_problem(model, err, path) for err in exc.errors(include_url=False)]
        raise _Problems(problems) from None


class _Problems(Exception):
    def __init__(self, problems: list[_Problem]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems


def _pydantic_problem(model: type[_Model], err: Any, path: Path_) -> _Problem:
    loc = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
    full = (*path, *loc)
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = registry.suggest(key, list(model.model_fields))
        where = {_Top: "at the top level", _Defaults: "in defaults", _Item: "in a compare item",
                 _Sub: "in a nested scheduler"}.get(model, "in an entry")
        message = f"unknown key '{key}' {where}"
        if hint:
            message += f" ({hint})"
        else:
            message += "; allowed: " + ", ".join(model.model_fields)
        return _Problem(full, message, at_key=True)
    if kind == "missing":
        return _Problem(path, f"missing required key '{loc[-1]}'")
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind != "value_error" and value is not None and not isinstance(value, (dict, list)):
        msg += f", got {value!r}"
    elif kind != "value_error" and isinstance(value, (dict, list)):
        msg += f", got {_kind(value)}"
    return _Problem(full, msg[0].lower() + msg[1:] if msg[:1].isupper() and msg[1:2].islower()
                    else msg)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


# --------------------------------------------------------------------------- entries


@dataclass
class Entry:
    """One validated gallery entry, ready to render.

    ``grid`` holds the specs: ``[[spec]]`` for a schedule, one row for a comparison or a
    one-kwarg sweep, rows x columns for a two-kwarg sweep.
    """

    name: str
    kind: Literal["schedule", "compare", "sweep"]
    grid: list[list[ScheduleSpec]]
    where: str
    command: str
    spec_text: str
    title: str | None = None
    description: str | None = None
    log: bool = False
    x: Literal["epoch", "step"] = "epoch"
    momentum: bool = False
    annotate: bool = True
    layout: Literal["overlay", "grid"] = "overlay"
    row_labels: list[str] = field(default_factory=list)
    col_labels: list[str] = field(default_factory=list)

    @property
    def specs(self) -> list[ScheduleSpec]:
        """Return every spec of the entry, row by row."""
        return [s for row in self.grid for s in row]


@dataclass
class Gallery:
    """A loaded config: the valid entries, the problems of the others, the formats."""

    path: Path
    entries: list[Entry]
    problems: list[str]
    formats: tuple[str, ...] | None = None
    total: int = 0


def parse_formats(value: str | Iterable[str]) -> tuple[str, ...]:
    """Return the image formats of ``png,svg`` (or a list), checked and de-duplicated.

    Example:
        >>> parse_formats("SVG, png,svg")
        ('svg', 'png')
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise UsageError(f"formats are png, svg or pdf; got {item!r}")
        name = item.strip().lower().lstrip(".")
        if name not in FORMATS:
            raise UsageError(f"unknown image format {item.strip()!r}",
                             hint=registry.suggest(name, list(FORMATS)) or "use png, svg or pdf")
        if name not in out:
            out.append(name)
    if not out:
        raise UsageError("no image format given", hint="use e.g. png,svg")
    return tuple(out)


def _text(value: Any, path: Path_) -> Any:
    """Return a YAML value as the text a command line would carry (lists stay lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, list):
        out = []
        for i, item in enumerate(value):
            if isinstance(item, (list, dict)):
                raise _Problem((*path, i), f"expected a number or text, got {_kind(item)}")
            out.append(_text(item, (*path, i)))
        return out
    raise _Problem(path, f"expected a number, text or a list, got {_kind(value)}")


def _scheduler(name: str, path: Path_, allow_import: bool) -> Any:
    """Return the registry entry of a scheduler, refusing plug-ins without --allow-import."""
    if registry.is_plugin(name) and not allow_import:
        raise _Problem(path, f"'{name}' is a plug-in scheduler; a config may import code only "
                       "when you pass --allow-import")
    try:
        return scheduler_info(name)
    except UsageError as exc:
        raise _Problem(path, str(exc)) from None


def _check_spec_string(text: str, path: Path_, allow_import: bool) -> None:
    """Refuse a plug-in named in a SPEC string, or in the SPECs nested in its
    ``schedulers=[...]``, unless imports are allowed (parsing would import it)."""
    match = _SPEC_NAME.match(text.strip())
    if not match:
        return  # not a SPEC at all: parse_spec says so
    _scheduler(match.group(1), path, allow_import)
    rest = (match.group("rest") or "").strip()
    try:
        parts = split_top(rest) if rest else []
    except UsageError:
        return
    for part in parts:
        key, _, value = part.partition("=")
        value = value.strip()
        if key.strip() != "schedulers":
            continue
        inner = value[1:-1] if value.startswith("[") and value.endswith("]") else value
        with contextlib.suppress(UsageError):
            for item in split_top(inner):
                item = item.strip()
                if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
                    item = item[1:-1]
                _check_spec_string(item, path, allow_import)


def _build(
    name: str, kwargs: dict[str, Any] | None, run: dict[str, Any], path: Path_,
    allow_import: bool,
) -> ScheduleSpec:
    """Build a spec from a ``scheduler``/``kwargs`` mapping at ``path``, locating errors."""
    info = _scheduler(name, (*path, "scheduler"), allow_import)
    texts: dict[str, Any] = {}
    for key, raw in (kwargs or {}).items():
        kpath = (*path, "kwargs", key)
        if key in info.from_run:
            texts[key] = _text(raw, kpath)
            continue
        kw = info.kwarg(key)
        if kw is None:
            known = [k.name for k in info.cli_kwargs]
            if key in RUN_KEYS:
                message = (f"'{key}' is a run option, not a kwarg of {info.name}: write it "
                           "beside kwargs:, not inside")
            else:
                hint = registry.suggest(key, known)
                message = f"{info.name} has no kwarg '{key}'" + (
                    f" ({hint})" if hint else
                    f"; its kwargs: {', '.join(known)}" if known else "; it takes no kwargs")
            raise _Problem(kpath, message, at_key=True)
        if kw.kind == "specs":
            items = raw if isinstance(raw, list) else [raw]
            texts[key] = [_sub_spec(item, (*kpath, i) if isinstance(raw, list) else kpath,
                                    allow_import) for i, item in enumerate(items)]
            continue
        value = _text(raw, kpath)
        if value is None:
            continue
        try:
            parse_value(kw, value, info.name)
        except UsageError as exc:
            raise _Problem(kpath, _unflag(str(exc), info.name, key)) from None
        texts[key] = value
    missing = [k for k in info.required if k not in texts]
    if missing:
        raise _Problem((*path, "kwargs") if kwargs is not None else (*path, "scheduler"),
                       f"{info.name} needs {', '.join(missing)}: add "
                       + ", ".join(f"{m}: ..." for m in missing) + " under kwargs:")
    if run.get("metric") is not None:
        if info.cls != "ReduceLROnPlateau":
            raise _Problem((*path, "metric"), f"only plateau (ReduceLROnPlateau) uses a "
                           f"metric; {info.name} ignores it", at_key=True)
        try:
            metric_values(run["metric"], 1)
        except UsageError as exc:
            raise _Problem((*path, "metric"), str(exc)) from None
    try:
        spec = make_spec(name, texts, **run)
    except UsageError as exc:
        raise _Problem(path, str(exc)) from None
    return spec


def _unflag(message: str, scheduler: str, key: str) -> str:
    """Drop the command-line ``cosine --T_max`` prefix: the config path names the kwarg."""
    return message.removeprefix(f"{scheduler} --{key} ")


def _sub_spec(item: Any, path: Path_, allow_import: bool) -> ScheduleSpec:
    """Return one nested scheduler of sequential/chained: a SPEC string or a mapping."""
    if isinstance(item, str):
        _check_spec_string(item, path, allow_import)
        try:
            return parse_spec(item)
        except UsageError as exc:
            raise _Problem(path, str(exc)) from None
    sub = _validate(_Sub, item, path)
    return _build(sub.scheduler, sub.kwargs, {}, path, allow_import)


def _run_options(*layers: Any) -> dict[str, Any]:
    """Merge the run options of defaults, entry and item (later layers win)."""
    run: dict[str, Any] = {}
    for layer in layers:
        for key in ("lr", "epochs", "steps_per_epoch", "step_per", "optimizer", "warmup",
                    "warmup_start_factor", "metric", "label"):
            value = getattr(layer, key, None)
            if value is not None:
                run[key] = value
    return run


def _look(defaults: _Defaults, entry: _Common) -> dict[str, Any]:
    """Return the plot options of an entry: its own, else the defaults, else built-ins."""
    out: dict[str, Any] = {}
    for key, fallback in (("log", False), ("x", "epoch"), ("momentum", False),
                          ("annotate", True)):
        value = getattr(entry, key)
        out[key] = value if value is not None else (
            getattr(defaults, key) if getattr(defaults, key) is not None else fallback)
    return out


def _quote(word: str) -> str:
    return word if re.fullmatch(r"[\w.,:=@/+\-\[\]]+", word) else shlex.quote(word)


def _spec_text(spec: ScheduleSpec, *, label: bool = True,
               common: Mapping[str, Any] | None = None) -> str:
    """Return a SPEC string with the run options that differ from the defaults.

    Run options equal to ``common`` (given as command-line flags instead) are left out.
    """
    base = ScheduleSpec(spec.scheduler)
    items = [spec.to_spec_string()]
    for key in RUN_KEYS:
        value = getattr(spec, key)
        if common and key in common:
            if value == common[key]:
                continue
        elif value is None or value == getattr(base, key):
            continue
        if (key == "label" and not label) or (key == "warmup_start_factor" and not spec.warmup):
            continue
        if isinstance(value, tuple):
            text = str(value[0]) if len(value) == 1 else "[" + ",".join(map(str, value)) + "]"
        else:
            text = str(value)
            if not re.fullmatch(r"[\w.+\-]+", text):
                text = f'"{text}"' if '"' not in text else repr(text)
        items.append(f"{key}={text}")
    head, _, rest = items[0].partition(":")
    text = head + (":" + ",".join(([rest] if rest else []) + items[1:])
                   if len(items) > 1 or rest else "")
    return text.replace("'", '"') if '"' not in text else text


def _common_run(run: Mapping[str, Any]) -> dict[str, Any]:
    """Return the run options ``lrplot compare`` takes as flags, normalised like a spec."""
    base = ScheduleSpec("constant")
    out = {k: getattr(base, k) for k in ("lr", "steps_per_epoch", "step_per", "optimizer")}
    out["epochs"] = None
    for key in out:
        if run.get(key) is not None:
            value = run[key]
            out[key] = tuple(float(v) for v in value) if key == "lr" else value
    return out


def _compare_flags(common: Mapping[str, Any]) -> str:
    base = _common_run({})
    words = []
    for key, value in common.items():
        if value != base[key]:
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            words += [f"--{key.replace('_', '-')}", text]
    return "".join(" " + _quote(w) for w in words)


def _flags(look: dict[str, Any], title: str | None) -> str:
    words = []
    if look["log"]:
        words.append("--log")
    if look["x"] != "epoch":
        words += ["--x", look["x"]]
    if look["momentum"]:
        words.append("--momentum")
    if title:
        words += ["--title", title]
    return "".join(" " + _quote(w) for w in words)


def _check_size(specs: list[ScheduleSpec], path: Path_) -> None:
    total = sum(s.resolved().n_steps for s in specs)
    if total > MAX_STEPS:
        raise _Problem(path, f"the entry simulates {total:,} optimizer steps; a gallery entry "
                       f"may simulate at most {MAX_STEPS:,}")


def _entry(
    name: str, raw: Any, defaults: _Defaults, source: _Source, allow_import: bool,
) -> Entry:
    """Validate and build one entry; raise ``_Problem``/``_Problems`` with locations."""
    path: Path_ = ("entries", name)
    try:
        check_name(name)
    except ValueError as exc:
        raise _Problem(path, str(exc), at_key=True) from None
    if not isinstance(raw, dict):
        raise _Problem(path, f"an entry is a mapping (scheduler: ... or compare: ...), got "
                       f"{_kind(raw)}")
    if "compare" in raw and ("scheduler" in raw or "sweep" in raw):
        other = "scheduler" if "scheduler" in raw else "sweep"
        raise _Problem((*path, "compare"), f"an entry has either compare: or {other}:, not "
                       "both", at_key=True)
    if "compare" not in raw and "scheduler" not in raw:
        hint = registry.suggest(next(iter(raw), ""), ["scheduler", "compare"]) if raw else None
        raise _Problem(path, "an entry needs scheduler: (a schedule or sweep) or compare: (a "
                       "list of schedules)" + (f" ({hint})" if hint else ""))
    where = source.where(path, at_key=True)
    if "compare" in raw:
        return _compare_entry(name, raw, defaults, path, where, allow_import)
    model: type[_Single] = _Sweep if "sweep" in raw else _Single
    data = _validate(model, raw, path)
    look = _look(defaults, data)
    run = _run_options(defaults, data)
    if isinstance(data, _Sweep):
        return _sweep_entry(name, data, run, look, path, where, allow_import)
    spec = _build(data.scheduler, data.kwargs, run, path, allow_import)
    _check_size([spec], path)
    return Entry(
        name, "schedule", [[spec]], where,
        command=spec.to_command() + _flags(look, data.title),
        spec_text=_spec_text(spec), title=data.title, description=data.description, **look,
    )


def _compare_entry(
    name: str, raw: dict[str, Any], defaults: _Defaults, path: Path_, where: str,
    allow_import: bool,
) -> Entry:
    data = _validate(_Compare, raw, path)
    look = _look(defaults, data)
    run = _run_options(defaults, data)
    common = _common_run(run)
    specs, words = [], ["lrplot", "compare"]
    for i, item in enumerate(data.compare):
        ipath = (*path, "compare", i)
        if isinstance(item, str):
            _check_spec_string(item, ipath, allow_import)
            run_i = dict(run)
            if run.get("metric") is not None and not _is_plateau(item):
                run_i.pop("metric")
            try:
                spec = parse_spec(item, **run_i)
            except UsageError as exc:
                raise _Problem(ipath, str(exc)) from None
            if spec.label is None:
                spec.label = item.strip()
            if spec.metric is not None:
                try:
                    metric_values(spec.metric, 1)
                except UsageError as exc:
                    raise _Problem(ipath, str(exc)) from None
            verbatim = not any(k in run_i for k in ("warmup", "warmup_start_factor", "metric"))
            text = item.strip() if verbatim else _spec_text(spec, label=False, common=common)
        elif isinstance(item, dict):
            model = _validate(_Item, item, ipath)
            run_i = _run_options(defaults, data, model)
            if model.metric is None and data.metric is not None and not _is_plateau(
                    model.scheduler):
                run_i.pop("metric")
            spec = _build(model.scheduler, model.kwargs, run_i, ipath, allow_import)
            text = _spec_text(spec, label=False, common=common)
            if spec.label is None:
                spec.label = text
        else:
            raise _Problem(ipath, f"a compare item is a SPEC string or a mapping, got "
                           f"{_kind(item)}")
        if spec.label != text:
            text = _spec_text(spec, common=common)
        specs.append(spec)
        words.append(_quote(text))
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        twice = next(lb for lb in labels if labels.count(lb) > 1)
        raise _Problem((*path, "compare"), f"two compare items have the label {twice!r}; "
                       "give each a distinct label:")
    _check_size(specs, path)
    layout = data.layout or "overlay"
    command = " ".join(words) + _compare_flags(common) + (
        " --layout grid" if layout == "grid" else "")
    return Entry(
        name, "compare", [specs], where, command=command + _flags(look, data.title),
        spec_text="\n".join(_spec_text(s, label=False) for s in specs), title=data.title,
        description=data.description, layout=layout, **look,
    )


def _is_plateau(text: str) -> bool:
    """Return True when a SPEC string or scheduler name names ReduceLROnPlateau."""
    match = _SPEC_NAME.match(text.strip())
    if not match or registry.is_plugin(match.group(1)):
        return False
    info = registry.BY_NAME.get(match.group(1).lower())
    return info is not None and info.cls == "ReduceLROnPlateau"


def _sweep_entry(
    name: str, data: _Sweep, run: dict[str, Any], look: dict[str, Any], path: Path_,
    where: str, allow_import: bool,
) -> Entry:
    spath = (*path, "sweep")
    info = _scheduler(data.scheduler, (*path, "scheduler"), allow_import)
    if not 1 <= len(data.sweep) <= 2:
        raise _Problem(spath, f"sweep takes one kwarg (overlay) or two (grid); got "
                       f"{len(data.sweep)}")
    axes: list[tuple[str, list[Any], list[str]]] = []
    for key, values in data.sweep.items():
        kpath = (*spath, key)
        kw = info.kwarg(key)
        if key in (data.kwargs or {}):
            raise _Problem(kpath, f"'{key}' is both in kwargs: and swept; keep it in one place",
                           at_key=True)
        if kw is None and key not in _SWEEP_RUN_KEYS:
            known = [k.name for k in info.cli_kwargs] + list(_SWEEP_RUN_KEYS)
            hint = registry.suggest(key, known)
            raise _Problem(kpath, f"cannot sweep '{key}': {info.name} has no such kwarg or "
                           "run option" + (f" ({hint})" if hint else ""), at_key=True)
        if not 1 <= len(values) <= 12:
            raise _Problem(kpath, f"a sweep takes 1 to 12 values; got {len(values)}")
        texts = []
        for i, value in enumerate(values):
            text = _text(value, (*kpath, i))
            if kw is not None and kw.kind != "specs":
                try:
                    parse_value(kw, text, info.name)
                except UsageError as exc:
                    raise _Problem((*kpath, i), _unflag(str(exc), info.name, key)) from None
            texts.append(text)
        shown = [",".join(t) if isinstance(t, list) else str(t) for t in texts]
        axes.append((key, texts, shown))

    def cell(choice: list[tuple[str, Any]]) -> ScheduleSpec:
        kwargs = dict(data.kwargs or {})
        cell_run = dict(run)
        for key, value in choice:
            target = cell_run if key in _SWEEP_RUN_KEYS and info.kwarg(key) is None else kwargs
            target[key] = value
        spec = _build(data.scheduler, kwargs, cell_run, path, allow_import)
        spec.label = ", ".join(f"{k}={_show(v)}" for k, v in choice)
        return spec

    rows_axis = axes[0] if len(axes) == 2 else None
    cols_key, cols, cols_shown = axes[-1]
    grid = []
    for r in rows_axis[1] if rows_axis else [None]:
        grid.append([cell(([(rows_axis[0], r)] if rows_axis else []) + [(cols_key, c)])
                     for c in cols])
    _check_size([s for row in grid for s in row], path)
    base = grid[0][0]
    swept = {key for key, _, _ in axes}
    stripped = replace(base, kwargs={k: v for k, v in base.kwargs.items() if k not in swept},
                       **{k: getattr(ScheduleSpec(base.scheduler), k) for k in swept
                          if k in _SWEEP_RUN_KEYS and info.kwarg(k) is None}, label=None)
    sweeps = " ".join(
        "--sweep " + _quote(f"{key}=" + (";" if any(isinstance(t, list) for t in texts)
                                          else ",").join(shown))
        for key, texts, shown in axes)
    title = data.title
    command = stripped.to_command() + " " + sweeps
    return Entry(
        name, "sweep", grid, where, command=command + _flags(look, title),
        spec_text=_spec_text(stripped) + "  sweep " + "  ".join(
            f"{key}=" + "|".join(shown) for key, _, shown in axes),
        title=title, description=data.description,
        row_labels=[f"{rows_axis[0]}={v}" for v in rows_axis[2]] if rows_axis else [],
        col_labels=[f"{cols_key}={v}" for v in cols_shown], **look,
    )


def _show(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


# --------------------------------------------------------------------------- loading


def load_text(text: str, label: str = "<config>", *, allow_import: bool = False) -> Gallery:
    """Validate config text; return the good entries and a located message per bad one.

    Raises:
        ConfigError: a file-level problem (syntax, tags, aliases, unknown top-level key,
            bad defaults, no entries).
    """
    data, source = _load_yaml(text, label)
    if data is None:
        raise ConfigError(f"{label}:1:1: the config is empty; it needs an entries: mapping")
    if not isinstance(data, dict):
        raise ConfigError(f"{source.where(())}: the config must be a mapping with entries: "
                          f"(and optionally defaults:), got {_kind(data)}")
    entries = data.get("entries")
    if isinstance(entries, list):
        raise ConfigError(f"{source.where(('entries',))}: entries: maps each entry name to its "
                          "entry (write 'name:' lines), not a list")
    if "entries" in data and not entries:
        raise ConfigError(f"{source.where(('entries',), at_key=True)}: entries: is empty; add "
                          "at least one entry")
    try:
        top = _validate(_Top, data, ())
        defaults = _validate(_Defaults, top.defaults or {}, ("defaults",))
    except (_Problem, _Problems) as exc:
        problems = exc.problems if isinstance(exc, _Problems) else [exc]
        lines = sorted((_format(source, p, None) for p in problems), key=_line_col)
        raise ConfigError("\n".join(lines)) from None
    gallery = Gallery(Path(label), [], [], formats=defaults.formats, total=len(top.entries))
    seen: dict[str, str] = {}
    for name, raw in top.entries.items():
        path: Path_ = ("entries", name)
        if name.lower() in seen:
            gallery.problems.append(_format(source, _Problem(
                path, f"entry names must differ ignoring case: '{seen[name.lower()]}' "
                "already exists", at_key=True), name))
            continue
        seen[name.lower()] = name
        try:
            gallery.entries.append(_entry(name, raw, defaults, source, allow_import))
        except _Problem as problem:
            gallery.problems.append(_format(source, problem, name))
        except _Problems as many:
            gallery.problems.extend(sorted((_format(source, p, name) for p in many.problems),
                                           key=_line_col))
    return gallery


def load(path: str | Path, *, allow_import: bool = False) -> Gallery:
    """Read and validate a config file (see ``load_text``)."""
    path = Path(path)
    gallery = load_text(_read(path), str(path), allow_import=allow_import)
    gallery.path = path
    return gallery


def _format(source: _Source, problem: _Problem, entry: str | None) -> str:
    """Return ``file:line:col: entry 'x': field: message`` for a problem.

    A problem about a key itself (an unknown key, say) names the key in its message, so
    the field shown is the mapping that holds it.
    """
    where = source.where(problem.path, at_key=problem.at_key or len(problem.path) <= 2)
    inner = problem.path[2:] if entry is not None else problem.path
    if problem.at_key:
        inner = inner[:-1]
    text = f"{where}: "
    if entry is not None:
        text += f"entry '{entry}': "
    if inner:
        text += f"{_dotted(inner)}: "
    return text + problem.message


def _line_col(text: str) -> tuple[int, int]:
    match = re.match(r".*?:(\d+):(\d+): ", text)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


# --------------------------------------------------------------------------- rendering


@dataclass
class _Job:
    entry: Entry
    formats: tuple[str, ...]
    out: str


@dataclass
class _Result:
    name: str
    files: list[str] = field(default_factory=list)
    diagnostics: list[tuple[str, str, str | None]] = field(default_factory=list)
    error: str | None = None


def _warm() -> None:
    """Import torch, matplotlib and lrplot once per worker process (a tiny simulation)."""
    import lrplot
    import lrplot.diagnose
    import lrplot.render

    lrplot.simulate("constant:factor=1,total_iters=1", epochs=1)


def render_entry(entry: Entry, out_dir: str | Path, formats: Iterable[str] = ("png",)
                 ) -> list[tuple[str, str, str | None]]:
    """Simulate, diagnose and draw one entry into ``out_dir``; return its diagnostics.

    Raises:
        LrplotError: the entry failed to simulate or draw.
    """
    os.makedirs(os.path.join(out_dir, THUMBS), exist_ok=True)
    result = _render(_Job(entry, parse_formats(list(formats)), str(out_dir)))
    if result.error:
        raise LrplotError(result.error)
    return result.diagnostics


def _render(job: _Job) -> _Result:
    """Simulate, diagnose and draw one entry into ``job.out``; never raise."""
    entry = job.entry
    result = _Result(entry.name)
    try:
        _draw(job, result)
    except LrplotError as exc:
        result.error = str(exc)
    except Exception as exc:  # isolate any failure to its entry
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
        result.error = f"unexpected {type(exc).__name__}: {exc}{where}"
    return result


def _draw(job: _Job, result: _Result) -> None:
    from lrplot import render
    from lrplot import simulate as simulate  # the public API, whichever module holds it
    from lrplot.diagnose import diagnose

    entry = job.entry
    many = len(entry.specs) > 1
    schedules = [[simulate(s) for s in row] for row in entry.grid]
    for spec_row, row in zip(entry.grid, schedules, strict=True):
        for spec, schedule in zip(spec_row, row, strict=True):
            for d in diagnose(spec.resolved(), schedule):
                message = f"{spec.label}: {d.message}" if many else d.message
                result.diagnostics.append((d.level, message, d.fix))
    flat = [s for row in schedules for s in row]
    if entry.kind == "sweep" and len(entry.grid) > 1:
        figure = render.sweep_grid(
            schedules, row_labels=entry.row_labels, col_labels=entry.col_labels, log=entry.log,
            x=entry.x, title=entry.title or entry.command,
        )
    else:
        notes = [m for _, m, _ in result.diagnostics] if entry.annotate else []
        if len(notes) > 4:
            notes = [*notes[:3], f"and {len(notes) - 3} more (see README.md)"]
        title = entry.title or (entry.command if entry.kind == "sweep" else None)
        figure = render.plot(
            flat if many else flat[0], log=entry.log, x=entry.x, title=title,
            momentum=entry.momentum, labels=[s.label or s.scheduler for s in entry.specs]
            if many else None, layout=entry.layout, annotations=notes,
        )
    for fmt in job.formats:
        name = f"{entry.name}.{fmt}"
        render.save(figure, Path(job.out) / name)
        result.files.append(name)
    # The contact sheet's cell: the same figure drawn small (not a full image scaled
    # down), at one shape for all so the sheet's rows stay even.
    width = figure.get_figwidth()
    figure.set_size_inches(width, width * 9 / 16)
    figure.set_dpi(THUMB_PX / width)
    render.save(figure, Path(job.out, THUMBS, f"{entry.name}.png"))


def _sheet(images: list[tuple[str, str]], path: str) -> None:
    from lrplot import render

    render.contact_sheet(images, path, columns=4)


# --------------------------------------------------------------------------- index files


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _code(text: str) -> str:
    """Return inline code for a markdown table cell (pipes escaped, newlines as <br>)."""
    return "<br>".join(f"`{_md(line)}`" for line in text.splitlines() if line) or "—"


def _readme(entries: list[Entry], results: dict[str, _Result], config_link: str,
            image: Callable[[str], str], link: Callable[[str], str]) -> str:
    lines = [
        "# Learning-rate schedule gallery",
        "",
        f"Rendered by `lrplot gallery` from {config_link}: {len(entries)} "
        f"entr{'y' if len(entries) == 1 else 'ies'}. Each curve is the learning rate that "
        "every optimizer step uses, taken from the real `torch.optim.lr_scheduler` class "
        "stepped like a training loop. Do not edit: regenerate with `lrplot gallery`.",
        "",
        f"![contact sheet]({SHEET})" if entries else "_No entry rendered._",
        "",
        "| image | entry | spec | command | diagnostics |",
        "|---|---|---|---|---|",
    ]
    for entry in entries:
        result = results[entry.name]
        img = image(entry.name)
        cell_img = (f'<a href="{link(entry.name)}"><img src="{img}" width="240" '
                    f'alt="{entry.name}"></a>')
        about = f"**{_md(entry.name)}**" + (f"<br>{_md(entry.description)}"
                                             if entry.description else "")
        diags = "<br>".join(
            f"{'⚠' if level == 'warning' else 'ℹ'} {_md(message)}"
            + (f" — _{_md(fix)}_" if fix else "")
            for level, message, fix in result.diagnostics) or "—"
        lines.append(f"| {cell_img} | {about} | {_code(entry.spec_text)} | "
                     f"{_code(_command(entry, result))} | {diags} |")
    return "\n".join(lines) + "\n"


def _command(entry: Entry, result: _Result) -> str:
    if entry.kind == "schedule" and entry.annotate and result.diagnostics:
        return entry.command + " --annotate"
    return entry.command


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#222;
background:#fafafa}
h1{font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1.2rem}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.8rem}
.card img{width:100%;height:auto;border-radius:4px}
.card h2{font-size:1.05rem;margin:.4rem 0}
code{font-size:.8rem;background:#f3f3f3;padding:.1rem .25rem;border-radius:3px;
word-break:break-all}
.warning{color:#9a6700}.info{color:#555}
ul{padding-left:1.1rem;margin:.3rem 0}li{font-size:.85rem}
p{margin:.3rem 0}
""".strip()


def _index(entries: list[Entry], results: dict[str, _Result], config_name: str,
           image: Callable[[str], str], link: Callable[[str], str]) -> str:
    esc = html.escape
    cards = []
    for entry in entries:
        result = results[entry.name]
        img = esc(image(entry.name))
        diags = "".join(
            f'<li class="{level}">{esc(message)}' + (f"<br><em>{esc(fix)}</em>" if fix else "")
            + "</li>" for level, message, fix in result.diagnostics)
        cards.append(
            f'<div class="card" id="{esc(entry.name)}">'
            f'<a href="{esc(link(entry.name))}"><img src="{img}" alt="{esc(entry.name)}" '
            'loading="lazy"></a>'
            f"<h2>{esc(entry.name)}</h2>"
            + (f"<p>{esc(entry.description)}</p>" if entry.description else "")
            + "".join(f"<p><code>{esc(line)}</code></p>" for line in entry.spec_text.splitlines())
            + f"<p><code>{esc(_command(entry, result))}</code></p>"
            + (f"<ul>{diags}</ul>" if diags else "")
            + "</div>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>lrplot gallery: {esc(config_name)}</title>\n<style>\n{_CSS}\n</style>\n"
        "</head>\n<body>\n<h1>Learning-rate schedule gallery</h1>\n"
        f"<p>Rendered by <code>lrplot gallery</code> from <code>{esc(config_name)}</code>: "
        f"{len(entries)} entries. <a href=\"{SHEET}\">Contact sheet</a>.</p>\n"
        '<div class="grid">\n' + "\n".join(cards) + "\n</div>\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- run


def run(
    config: Path,
    out_dir: Path,
    *,
    jobs: int = 1,
    formats: str | None = DEFAULT_FORMATS,
    check: bool = False,
    allow_import: bool = False,
    console: Console | None = None,
) -> int:
    """Render (or with ``check`` verify) a gallery; return the exit code (0 or 1).

    Files in ``out_dir`` are replaced atomically and only when their bytes change; files
    lrplot did not write are never touched. With ``check`` nothing is written.

    Args:
        config: the YAML config.
        out_dir: the gallery directory.
        jobs: worker processes (1 renders in this process).
        formats: image formats, e.g. ``"png,svg"``; the config's ``defaults.formats``
            applies when this is None or the default ``"png,svg"``.
        check: re-render into a temporary directory and compare with ``out_dir``.
        allow_import: let the config load ``module:Name`` plug-in schedulers.
        console: where progress and messages go.

    Raises:
        ConfigError: the config file itself is unusable.
        UsageError: a bad ``formats``.
        OutputError: ``out_dir`` cannot be created or written.
    """
    from rich.console import Console
    from rich.text import Text

    console = console or Console(highlight=False)
    config, out_dir = Path(config), Path(out_dir)
    chosen = parse_formats(formats) if formats is not None else None
    gallery = load(config, allow_import=allow_import)
    if chosen is None or (formats == DEFAULT_FORMATS and gallery.formats):
        chosen = gallery.formats or parse_formats(DEFAULT_FORMATS)
    for problem in gallery.problems:
        console.print(Text("error: ", style="bold red") + Text(problem))
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"cannot write the gallery to {out_dir}: it is not a directory")
    staging = tempfile.mkdtemp(prefix="lrplot-gallery-")
    os.mkdir(os.path.join(staging, THUMBS))
    workers = min(jobs, len(gallery.entries))
    try:
        with _pool(workers) if workers > 1 else contextlib.nullcontext() as pool:
            results = _render_all(gallery.entries, chosen, staging, pool, console)
            failed = [e for e in gallery.entries if results[e.name].error]
            for entry in failed:
                console.print(Text("error: ", style="bold red") + Text(
                    f"{entry.where}: entry '{entry.name}': {results[entry.name].error}"))
            good = [e for e in gallery.entries if not results[e.name].error]
            produced = _finish(gallery, good, results, chosen, staging, out_dir, pool)
        n_bad = gallery.total - len(good)
        if check:
            code = _compare(produced, staging, out_dir, config, chosen, formats, allow_import,
                            console)
        else:
            code = 0
            _publish(produced, staging, out_dir, console)
        summary = f"rendered {len(good)} of {gallery.total} entries"
        if n_bad:
            summary += f"; {n_bad} failed"
        console.print(Text(summary, style="bold red" if n_bad else "bold green"))
        return 1 if n_bad or code else 0
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _render_all(entries: list[Entry], formats: tuple[str, ...], staging: str, pool: Any,
                console: Console) -> dict[str, _Result]:
    """Render every entry into ``staging``: in ``pool`` if given, else in this process."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    results: dict[str, _Result] = {}
    if not entries:
        return results
    columns = (TextColumn("rendering"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.description}"), TimeElapsedColumn())
    jobs = [_Job(e, formats, staging) for e in entries]
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task("", total=len(entries))
        if pool is None:
            for job in jobs:
                progress.update(task, description=job.entry.name)
                results[job.entry.name] = _render(job)
                progress.advance(task)
            return results
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        futures = {pool.submit(_render, job): job.entry.name for job in jobs}
        try:
            for future in as_completed(futures):
                name = futures[future]
                try:
                    results[name] = future.result()
                except BrokenProcessPool as exc:  # a worker died (killed, out of memory)
                    results[name] = _Result(name, error=f"the worker process died: {exc}")
                progress.update(task, description=name)
                progress.advance(task)
        except BaseException:  # Ctrl-C: do not wait for the queued entries
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results


def _pool(workers: int) -> Any:
    """Return a process pool whose workers import torch and matplotlib once each.

    ``forkserver`` starts workers from a clean server process: no inherited threads (the
    progress bar, torch's pools) and none of the parent's memory, unlike ``fork``; on
    Linux it rendered configs/gallery.yaml as fast as ``fork`` and ``spawn`` (within the
    noise) and all three give the same bytes. Like ``spawn``, it re-imports the main
    script, so a script calling ``run`` needs the ``if __name__ == "__main__":`` guard.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_warm)


def _finish(gallery: Gallery, entries: list[Entry], results: dict[str, _Result],
            formats: tuple[str, ...], staging: str, out_dir: Path, pool: Any) -> list[str]:
    """Write the contact sheet, README.md and index.html into staging; return all outputs."""
    produced = [f"{e.name}.{fmt}" for e in entries for fmt in formats]
    thumb = "png" if "png" in formats else formats[0]

    full = "svg" if "svg" in formats else thumb

    def image(name: str) -> str:
        return f"{name}.{thumb}"

    def link(name: str) -> str:
        return f"{name}.{full}"

    if entries:
        images = [(e.name, os.path.join(staging, THUMBS, f"{e.name}.png")) for e in entries]
        sheet = os.path.join(staging, SHEET)
        if pool is not None:  # a worker has matplotlib loaded already
            pool.submit(_sheet, images, sheet).result()
        else:
            _sheet(images, sheet)
        produced.append(SHEET)
    # The name only: a path would tie the bytes to where the config and DIR sit.
    config_name, config_md = gallery.path.name, f"`{gallery.path.name}`"
    readme = _readme(entries, results, config_md, image, link)
    index = _index(entries, results, config_name, image, link)
    for name, text in ((README, readme), (INDEX, index)):
        with open(os.path.join(staging, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return [*produced, README, INDEX]


def _publish(produced: list[str], staging: str, out_dir: Path, console: Console) -> None:
    """Copy changed files from staging into ``out_dir`` atomically; note foreign images."""
    from rich.text import Text

    from lrplot.files import atomic_write

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    written = 0
    for name in produced:
        data = Path(staging, name).read_bytes()
        target = out_dir / name
        if target.is_file() and target.read_bytes() == data:
            continue
        atomic_write(target, lambda f, data=data: f.write(data), binary=True)
        written += 1
    unchanged = len(produced) - written
    console.print(f"wrote {written} file{'s' if written != 1 else ''} to {out_dir}"
                  + (f" ({unchanged} unchanged)" if unchanged else ""))
    others = _foreign_images(produced, out_dir)
    if others:
        console.print(Text(f"note: {len(others)} image(s) in {out_dir} are not from this config "
                           f"and were left alone: {', '.join(others)}", style="dim"))


def _foreign_images(produced: list[str], out_dir: Path) -> list[str]:
    keep = set(produced)
    try:
        names = sorted(p.name for p in out_dir.iterdir() if p.is_file())
    except OSError:
        return []
    return [n for n in names if n not in keep and not n.startswith(".")
            and n.rpartition(".")[2].lower() in FORMATS]


def _compare(produced: list[str], staging: str, out_dir: Path, config: Path,
             chosen: tuple[str, ...], formats: str | None, allow_import: bool,
             console: Console) -> int:
    """Compare the fresh render with ``out_dir``; print stale/missing files; return 0/1."""
    from rich.text import Text

    stale, missing = [], []
    for name in produced:
        target = out_dir / name
        if not target.is_file():
            missing.append(name)
        elif target.read_bytes() != Path(staging, name).read_bytes():
            stale.append(name)
    if not stale and not missing:
        console.print(Text(f"{out_dir} is up to date ({len(produced)} files match)",
                           style="green"))
        return 0
    for name in stale:
        console.print(Text("stale:   ", style="yellow") + Text(str(out_dir / name)))
    for name in missing:
        console.print(Text("missing: ", style="red") + Text(str(out_dir / name)))
    command = ["lrplot", "gallery", str(config), "--out", str(out_dir)]
    if formats is not None and formats != DEFAULT_FORMATS:
        command += ["--format", ",".join(chosen)]
    if allow_import:
        command.append("--allow-import")
    console.print(Text(f"{len(stale)} stale and {len(missing)} missing of {len(produced)} "
                       f"files; regenerate with: {shlex.join(command)}", style="bold red"))
    return 1
