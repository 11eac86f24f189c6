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
mappings. Values are typed and checked by ``lrplot.spec`` exactly as on the command line;
this module only maps each error to where it sits in the file. Every problem is reported
as ``file:line:col: entry 'name': field: message``; a file-level problem raises
``ConfigError`` and a bad entry is skipped while the others render (the run then exits 1).

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
from collections.abc import Iterable, Iterator, Mapping
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
    sweep,
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
_CORE_TAG = "tag:yaml.org,2002:"
#: a ``module:Name`` scheduler heading a SPEC or an item of its lists, as ``parse_spec``
#: reads one (not ``cosin:T_max=3``, nor ``label='a:b'``).
_PLUGIN = re.compile(r"(?:^|(?<=[\[,])|(?<=[\[,]['\"]))\s*([A-Za-z_][\w.]*:[A-Za-z_]\w*)"
                     r"(?=[:'\",\]\s]|$)")

Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------- errors


class _Problem(Exception):
    """Problems at places in the config: ``(path of keys and indices, message, at_key)``."""

    def __init__(self, path: Path_, message: str, *, at_key: bool = False) -> None:
        super().__init__(message)
        self.items = [(path, message, at_key)]


@contextlib.contextmanager
def _at(path: Path_, name: str = "", keys: Mapping[str, Path_] | None = None) -> Iterator[None]:
    """Report a library ``UsageError`` at the key of ``keys`` it names, else at ``path``.

    The ``cosine --T_max`` that starts a message about a kwarg is dropped: the config
    path names the key already.
    """
    try:
        yield
    except UsageError as exc:
        for key, kpath in (keys or {}).items():
            names = f"{re.escape(key)}|{re.escape(key.replace('_', '-'))}"
            if re.search(rf"(--|')({names})\b", exc.message):
                raise _Problem(kpath, str(exc).removeprefix(f"{name} --{key} "),
                               at_key=f"'{key}'" in exc.message) from None
        raise _Problem(path, str(exc)) from None


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
    if name[0] in ".-" or name.endswith("."):
        raise ValueError(f"entry names may not start with '.' or '-' nor end with '.'; "
                         f"got {name!r}")
    if len(name) > 100:
        raise ValueError(f"entry name is {len(name)} characters long; at most 100")
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
    start = getattr(exc, "context_mark", None)
    where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label
    text = " ".join(str(getattr(exc, "problem", None) or str(exc).splitlines()[0]).split())
    context = " ".join(str(getattr(exc, "context", None) or "").split())
    if type(exc).__name__ == "DuplicateKeyError":
        return ConfigError(f"{where}: duplicate key: {text}" + (
            f" (the mapping starts at line {start.line + 1})" if start is not None else ""))
    if context and context not in text:
        since = (f" (from {start.line + 1}:{start.column + 1})"
                 if start is not None and mark is not None and start.line != mark.line else "")
        text = f"{context}{since}: {text}"
    return ConfigError(f"{where}: YAML syntax error: {text}")


def _scan(text: str, label: str) -> None:
    """Walk the YAML events and refuse what plain data does not need.

    Refused: anchors and aliases (``&a``/``*a``), every explicit tag (``!!python/...``,
    ``!foo``, even ``!!str``), merge keys (``<<``), keys that are lists or mappings, a
    ``%YAML`` version other than 1.2, more than one document, and deep nesting.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml import events as ev
    from ruamel.yaml.error import YAMLError

    def fail(event: Any, message: str) -> ConfigError:
        mark = event.start_mark
        return ConfigError(f"{label}:{mark.line + 1}:{mark.column + 1}: {message}")

    stack: list[list[int]] = []  # [is mapping, items seen]
    documents = 0
    try:
        for event in YAML(typ="rt").parse(text):
            if isinstance(event, ev.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise fail(event, "a config holds one YAML document; found a second '---'")
                if event.version not in (None, (1, 2)):
                    version = ".".join(map(str, event.version))
                    raise fail(event, f"'%YAML {version}' is not supported; configs are "
                               "YAML 1.2 (remove the %YAML line)")
            if not isinstance(event, ev.NodeEvent):
                if isinstance(event, ev.CollectionEndEvent) and stack:
                    stack.pop()
                continue
            is_key = bool(stack) and stack[-1][0] == 1 and stack[-1][1] % 2 == 0
            if stack:
                stack[-1][1] += 1
            if isinstance(event, ev.AliasEvent):
                raise fail(event, f"aliases (*{event.anchor}) are not allowed in a config; "
                           "write the value out")
            if event.anchor is not None:
                raise fail(event, f"anchors (&{event.anchor}) are not allowed in a config; "
                           "write each value out")
            tag = getattr(event, "tag", None)
            if tag is not None:
                tag = str(tag).replace(_CORE_TAG, "!!", 1)
                raise fail(event, f"tag '{tag}' is not allowed: a config is plain data "
                           "(numbers, text, true/false, lists, mappings)")
            if is_key and not isinstance(event, ev.ScalarEvent):
                raise fail(event, "a mapping key must be plain text, not a list or mapping")
            if is_key and event.value == "<<" and event.style is None:
                raise fail(event, "merge keys (<<) are not allowed in a config; write the "
                           "keys out")
            if isinstance(event, ev.CollectionStartEvent):
                stack.append([int(isinstance(event, ev.MappingStartEvent)), 0])
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
            out[key] = _plain(value, sub, source)
        return out
    if isinstance(node, list):
        for i in range(len(node)):
            with contextlib.suppress(AttributeError, KeyError, IndexError, TypeError):
                source.values[(*path, i)] = tuple(node.lc.item(i))  # type: ignore[attr-defined]
        return [_plain(value, (*path, i), source) for i, value in enumerate(node)]
    if isinstance(node, (bool, ScalarBoolean)):
        return bool(node)
    for plain in (int, float, str):
        if isinstance(node, plain):
            return plain(node)
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
    try:
        return None if value is None else parse_formats(value)
    except UsageError as exc:
        raise ValueError(exc.message) from None


PosInt = Annotated[int, Field(ge=1)]
Metric = Annotated[Any, BeforeValidator(_metric)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Run(_Model):
    lr: Annotated[Any, BeforeValidator(_lr)] = None
    epochs: PosInt | None = None
    steps_per_epoch: PosInt | None = None
    step_per: Literal["epoch", "iter"] | None = None
    optimizer: Literal["sgd", "adam", "adamw"] | None = None
    warmup: Annotated[int, Field(ge=0)] | None = None
    warmup_start_factor: Annotated[float, Field(gt=0, le=1)] | None = None


class _Look(_Model):
    log: bool | None = None
    x: Literal["epoch", "step"] | None = None
    momentum: bool | None = None
    annotate: bool | None = None


_LOOK_DEFAULTS = {"log": False, "x": "epoch", "momentum": False, "annotate": True}


class _Defaults(_Run, _Look):
    formats: Annotated[Any, BeforeValidator(_formats)] = None


class _Top(_Model):
    defaults: dict[str, Any] | None = None
    entries: dict[str, Any]


class _Sub(_Model):
    scheduler: str
    kwargs: dict[str, Any] | None = None


class _Item(_Sub, _Run):
    label: str | None = None
    metric: Metric = None


class _Common(_Run, _Look):
    title: str | None = None
    description: str | None = None
    metric: Metric = None


class _Single(_Common, _Sub):
    sweep: dict[str, Annotated[list[Any], Field(min_length=1, max_length=12)]] | None = Field(
        None, min_length=1)


class _Compare(_Common):
    compare: list[Any] = Field(min_length=1, max_length=12)
    layout: Literal["overlay", "grid"] | None = None


_WHERE = {_Top: "at the top level", _Defaults: "in defaults", _Item: "in a compare item",
          _Sub: "in a nested scheduler"}


def _validate(model: type[_Model], data: Any, path: Path_) -> Any:
    """Validate ``data`` with a pydantic model; raise one ``_Problem`` holding every error."""
    if not isinstance(data, dict):
        raise _Problem(path, f"expected a mapping, got {_kind(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problem = _Problem(path, str(exc))
        problem.items = [_pydantic_item(model, e, path) for e in exc.errors(include_url=False)]
        raise problem from None


def _pydantic_item(model: type[_Model], err: Any, path: Path_) -> tuple[Path_, str, bool]:
    loc = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        hint = registry.suggest(str(loc[-1]), list(model.model_fields))
        return (*path, *loc), f"unknown key '{loc[-1]}' {_WHERE.get(model, 'in an entry')}" + (
            f" ({hint})" if hint else "; allowed: " + ", ".join(model.model_fields)), True
    if kind == "missing":
        return path, f"missing required key '{loc[-1]}'", False
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind not in ("value_error", "too_short", "too_long") and value is not None:
        msg += f", got {_kind(value) if isinstance(value, (dict, list)) else repr(value)}"
    return (*path, *loc), msg[0].lower() + msg[1:] if msg[1:2].islower() else msg, False


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


def _refuse_plugins(text: str, path: Path_, allow_import: bool) -> None:
    """Refuse a ``module:Name`` scheduler, even nested in a SPEC, unless imports are allowed."""
    for name in [] if allow_import else _PLUGIN.findall(text):
        if registry.is_plugin(name):
            raise _Problem(path, f"'{name}' is a plug-in scheduler; a config may import code "
                           "only when you pass --allow-import")


def _info(scheduler: str, path: Path_, allow_import: bool) -> Any:
    """Return the registry entry of the ``scheduler:`` at ``path``."""
    _refuse_plugins(scheduler, (*path, "scheduler"), allow_import)
    with _at((*path, "scheduler")):
        return scheduler_info(scheduler)


def _build(scheduler: str, kwargs: dict[str, Any] | None, run: dict[str, Any], path: Path_,
           allow_import: bool, keys: Mapping[str, Path_] | None = None) -> ScheduleSpec:
    """Build the spec of a ``scheduler``/``kwargs`` mapping; report errors at their keys.

    ``keys`` places kwargs that are not under ``kwargs:`` (a sweep's first values).
    """
    info = _info(scheduler, path, allow_import)
    kwargs = dict(kwargs or {})
    kpaths = {key: (*path, "kwargs", key) for key in kwargs} | dict(keys or {})
    for key, raw in kwargs.items():
        kw, kpath = info.kwarg(key), kpaths[key]
        if kw is None and key in RUN_KEYS:
            raise _Problem(kpath, f"'{key}' is a run option, not a kwarg of {info.name}: write "
                           "it beside kwargs:, not inside", at_key=True)
        if kw is not None and kw.kind == "specs":
            subs = raw if isinstance(raw, list) else [raw]
            kwargs[key] = [_sub(item, (*kpath, i) if isinstance(raw, list) else kpath,
                                allow_import) for i, item in enumerate(subs)]
        elif kw is not None and key not in info.from_run:
            with _at(kpath, info.name, {key: kpath}):
                parse_value(kw, raw, info.name)
    with _at((*path, "scheduler"), info.name, kpaths):
        return make_spec(scheduler, kwargs, **run)


def _sub(item: Any, path: Path_, allow_import: bool) -> ScheduleSpec:
    """Return one nested scheduler of sequential/chained: a SPEC string or a mapping."""
    if isinstance(item, str):
        _refuse_plugins(item, path, allow_import)
        with _at(path):
            return parse_spec(item)
    sub = _validate(_Sub, item, path)
    return _build(sub.scheduler, sub.kwargs, {}, path, allow_import)


def _check_metric(spec: ScheduleSpec, path: Path_) -> None:
    """Refuse a metric given to a scheduler other than plateau, or one that cannot be read."""
    if spec.info.cls != "ReduceLROnPlateau":
        raise _Problem((*path, "metric"), f"only plateau (ReduceLROnPlateau) uses a metric; "
                       f"{spec.scheduler} ignores it", at_key=True)
    with _at((*path, "metric")):
        metric_values(spec.metric, 1)


def _check_size(specs: list[ScheduleSpec], path: Path_) -> None:
    total = sum(s.resolved().n_steps for s in specs)
    if total > MAX_STEPS:
        raise _Problem(path, f"the entry simulates {total:,} optimizer steps; a gallery entry "
                       f"may simulate at most {MAX_STEPS:,}")


def _word(value: Any) -> str:
    """Return a YAML value as command-line text (``true``, ``30,60``)."""
    if isinstance(value, list):
        return ",".join(map(_word, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _spec_value(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return (_spec_value(value[0]) if len(value) == 1
                else "[" + ",".join(map(_spec_value, value)) + "]")
    return str(value) if re.fullmatch(r"[\w.+-]+", str(value)) else repr(str(value))


def _spec_text(spec: ScheduleSpec, shared: ScheduleSpec | None = None) -> str:
    """Return the SPEC string of ``spec`` with its run options that differ from ``shared``
    (by default, from lrplot's defaults), strings in double quotes."""
    shared = shared or ScheduleSpec(spec.scheduler)
    extra = [f"{key}={_spec_value(getattr(spec, key))}" for key in RUN_KEYS
             if getattr(spec, key) not in (None, getattr(shared, key))
             and (key != "warmup_start_factor" or spec.warmup)]
    text = spec.to_spec_string()
    if extra:
        text += ("," if spec.kwargs else ":") + ",".join(extra)
    return text if '"' in text else text.replace("'", '"')


def _flags(entry: Entry) -> str:
    """Return the plot options of an entry as command-line flags."""
    words = (["--log"] * entry.log + ["--x", entry.x] * (entry.x != "epoch")
             + ["--momentum"] * entry.momentum + ["--title", entry.title or ""] * bool(entry.title))
    return "".join(" " + shlex.quote(w) for w in words)


def _entry(name: str, raw: Any, defaults: _Defaults, source: _Source, allow_import: bool
           ) -> Entry:
    """Validate and build one entry; raise ``_Problem`` with locations."""
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
    data = _validate(_Compare if "compare" in raw else _Single, raw, path)
    run = {k: v for layer in (defaults, data) for k in RUN_KEYS
           if (v := getattr(layer, k, None)) is not None}
    entry = Entry(name, "schedule", [], source.where(path, at_key=True), "", "",
                  title=data.title, description=data.description,
                  **{k: next(v for v in (getattr(data, k), getattr(defaults, k), default)
                             if v is not None) for k, default in _LOOK_DEFAULTS.items()})
    if isinstance(data, _Compare):
        _compare_entry(entry, data, run, path, allow_import)
    elif data.sweep is not None:
        _sweep_entry(entry, data, run, path, allow_import)
    else:
        spec = _build(data.scheduler, data.kwargs, run, path, allow_import)
        if spec.metric is not None:
            _check_metric(spec, path)
        entry.grid, entry.spec_text = [[spec]], _spec_text(spec)
        entry.command = spec.to_command() + _flags(entry)
    _check_size(entry.specs, path)
    return entry


def _compare_entry(entry: Entry, data: _Compare, run: dict[str, Any], path: Path_,
                   allow_import: bool) -> None:
    """Fill in a comparison: the run options of the entry are ``lrplot compare`` flags."""
    if data.metric is not None:
        with _at((*path, "metric")):
            metric_values(data.metric, 1)
    with _at(path):
        shared = make_spec("constant", **run)
    specs, words = [], []
    for i, item in enumerate(data.compare):
        ipath = (*path, "compare", i)
        if isinstance(item, str):
            _refuse_plugins(item, ipath, allow_import)
            with _at(ipath):
                spec = parse_spec(item, **run)
            word = item.strip()
        elif isinstance(item, dict):
            model = _validate(_Item, item, ipath)
            spec = _build(model.scheduler, model.kwargs, run | {
                k: v for k in RUN_KEYS if (v := getattr(model, k)) is not None}, ipath,
                allow_import)
            if model.metric is not None:
                _check_metric(spec, ipath)
            word = _spec_text(spec, shared)
        else:
            raise _Problem(ipath, f"a compare item is a SPEC string or a mapping, got "
                           f"{_kind(item)}")
        if spec.info.cls != "ReduceLROnPlateau":
            spec.metric = None  # the entry's metric is for its plateau items
        spec.label = spec.label or word
        specs.append(spec)
        words.append(word)
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        twice = next(lb for lb in labels if labels.count(lb) > 1)
        raise _Problem((*path, "compare"), f"two compare items have the label {twice!r}; "
                       "give each a distinct label:")
    entry.kind, entry.grid, entry.layout = "compare", [specs], data.layout or "overlay"
    entry.spec_text = "\n".join(_spec_text(replace(s, label=None)) for s in specs)
    entry.command = (shlex.join(["lrplot", "compare", *words])
                     + shared.to_command().removeprefix("lrplot constant")
                     + " --layout grid" * (entry.layout == "grid") + _flags(entry))


def _sweep_entry(entry: Entry, data: _Single, run: dict[str, Any], path: Path_,
                 allow_import: bool) -> None:
    """Fill in a sweep: ``spec.sweep`` of the entry's spec with each swept kwarg's first value."""
    assert data.sweep is not None
    spath = (*path, "sweep")
    keys = {key: (*spath, key) for key in data.sweep}
    info = _info(data.scheduler, path, allow_import)
    kwargs = dict(data.kwargs or {})
    texts = {key: [_word(v) for v in values] for key, values in data.sweep.items()}
    for key, values in texts.items():
        if key in kwargs:
            raise _Problem(keys[key], f"'{key}' is both in kwargs: and swept; keep it in one "
                           "place", at_key=True)
        kw = info.kwarg(key)
        if kw is not None and kw.kind != "specs":
            for i, value in enumerate(values):
                with _at((*keys[key], i), info.name, {key: (*keys[key], i)}):
                    parse_value(kw, value, info.name)
        if key not in RUN_KEYS and values:  # as on the command line, the first value
            kwargs[key] = values[0]  # stands in for a swept kwarg (a required one, say)
    base = _build(data.scheduler, kwargs, run, path, allow_import, keys)
    if base.metric is not None:
        _check_metric(base, path)
    sweeps = [f"{key}=" + (";" if any("," in v for v in values) else ",").join(values)
              for key, values in texts.items()]
    with _at(spath, info.name, keys):
        entry.grid = sweep(base, sweeps)
    plain = ScheduleSpec(base.scheduler)
    stripped = replace(base, kwargs={k: v for k, v in base.kwargs.items() if k not in keys},
                       **{k: getattr(plain, k) for k in keys if k in RUN_KEYS and
                          info.kwarg(k) is None}, label=None)
    (*rows, cols) = [[f"{key}={v}" for v in values] for key, values in texts.items()]
    entry.kind, entry.row_labels, entry.col_labels = "sweep", rows[0] if rows else [], cols
    entry.command = " ".join([stripped.to_command(), *(f"--sweep {shlex.quote(s)}"
                                                       for s in sweeps)]) + _flags(entry)
    entry.spec_text = _spec_text(stripped) + "  sweep " + "  ".join(
        f"{key}=" + "|".join(values) for key, values in texts.items())


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
    except _Problem as problem:
        raise ConfigError("\n".join(_format(source, problem, None))) from None
    gallery = Gallery(Path(label), [], [], formats=defaults.formats, total=len(top.entries))
    seen: dict[str, str] = {}
    for name, raw in top.entries.items():
        path: Path_ = ("entries", name)
        try:
            if name.lower() in seen:
                raise _Problem(path, f"entry names must differ ignoring case: "
                               f"'{seen[name.lower()]}' already exists", at_key=True)
            seen[name.lower()] = name
            with _at(path):
                gallery.entries.append(_entry(name, raw, defaults, source, allow_import))
        except _Problem as problem:
            gallery.problems.extend(_format(source, problem, name))
    return gallery


def load(path: str | Path, *, allow_import: bool = False) -> Gallery:
    """Read and validate a config file (see ``load_text``)."""
    path = Path(path)
    gallery = load_text(_read(path), str(path), allow_import=allow_import)
    gallery.path = path
    return gallery


def _format(source: _Source, problem: _Problem, entry: str | None) -> list[str]:
    """Return ``file:line:col: entry 'x': field: message`` per item of a problem, in order.

    A problem about a key itself (an unknown key, say) names the key in its message, so
    the field shown is the mapping that holds it.
    """
    lines = []
    for path, message, at_key in problem.items:
        where = source.where(path, at_key=at_key or len(path) <= 2)
        inner = path[2:] if entry is not None else path
        inner = inner[:-1] if at_key else inner
        lines.append((where, f"{where}: " + (f"entry '{entry}': " if entry is not None else "")
                      + (f"{_dotted(inner)}: " if inner else "") + message))
    return [text for _, text in sorted(lines, key=lambda line: _line_col(line[0]))]


def _line_col(where: str) -> tuple[int, int]:
    line, col = where.rsplit(":", 2)[1:]
    return int(line), int(col)


# --------------------------------------------------------------------------- rendering


@dataclass
class _Job:
    entry: Entry
    formats: tuple[str, ...]
    out: str


@dataclass
class _Result:
    name: str
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
        render.save(figure, Path(job.out, f"{entry.name}.{fmt}"))
    # The contact sheet's cell: the same figure drawn small (not a full image scaled
    # down), at one shape for all so the sheet's rows stay even.
    width = figure.get_figwidth()
    figure.set_size_inches(width, width * 9 / 16)
    figure.set_dpi(THUMB_PX / width)
    render.save(figure, Path(job.out, THUMBS, f"{entry.name}.png"))


# --------------------------------------------------------------------------- index files


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _code(text: str) -> str:
    """Return inline code for a markdown table cell (pipes escaped, newlines as <br>)."""
    return "<br>".join(f"`{_md(line)}`" for line in text.splitlines() if line) or "—"


def _readme(entries: list[Entry], results: dict[str, _Result], config_name: str,
            image: str, link: str) -> str:
    lines = [
        "# Learning-rate schedule gallery",
        "",
        f"Rendered by `lrplot gallery` from `{config_name}`: {len(entries)} "
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
        cell_img = (f'<a href="{entry.name}.{link}"><img src="{entry.name}.{image}" '
                    f'width="240" alt="{entry.name}"></a>')
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
           image: str, link: str) -> str:
    esc = html.escape
    cards = []
    for entry in entries:
        result = results[entry.name]
        diags = "".join(
            f'<li class="{level}">{esc(message)}' + (f"<br><em>{esc(fix)}</em>" if fix else "")
            + "</li>" for level, message, fix in result.diagnostics)
        cards.append(
            f'<div class="card" id="{esc(entry.name)}">'
            f'<a href="{esc(entry.name)}.{link}"><img src="{esc(entry.name)}.{image}" '
            f'alt="{esc(entry.name)}" loading="lazy"></a>'
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
    if entries:
        from lrplot.render import contact_sheet

        images = [(e.name, os.path.join(staging, THUMBS, f"{e.name}.png")) for e in entries]
        sheet = os.path.join(staging, SHEET)
        if pool is not None:  # a worker has matplotlib loaded already
            pool.submit(contact_sheet, images, sheet, 4).result()
        else:
            contact_sheet(images, sheet, 4)
        produced.append(SHEET)
    # The name only: a path would tie the bytes to where the config and DIR sit.
    for name, write in ((README, _readme), (INDEX, _index)):
        text = write(entries, results, gallery.path.name, thumb, full)
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
    stale, missing = _changes(produced, staging, out_dir)
    for name in stale + missing:
        data = Path(staging, name).read_bytes()
        atomic_write(out_dir / name, lambda f, data=data: f.write(data), binary=True)
    written = len(stale) + len(missing)
    unchanged = len(produced) - written
    console.print(f"wrote {written} file{'s' if written != 1 else ''} to {out_dir}"
                  + (f" ({unchanged} unchanged)" if unchanged else ""))
    others = _foreign_images(produced, out_dir)
    if others:
        console.print(Text(f"note: {len(others)} image(s) in {out_dir} are not from this config "
                           f"and were left alone: {', '.join(others)}", style="dim"))


def _changes(produced: list[str], staging: str, out_dir: Path) -> tuple[list[str], list[str]]:
    """Return the files of ``out_dir`` that differ from the fresh render, and those missing."""
    missing = [name for name in produced if not (out_dir / name).is_file()]
    stale = [name for name in produced if name not in missing
             and (out_dir / name).read_bytes() != Path(staging, name).read_bytes()]
    return stale, missing


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

    stale, missing = _changes(produced, staging, out_dir)
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
