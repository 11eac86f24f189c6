"""Gallery configs: reading the YAML safely, where each value sits, and the schema.

The schema's run and drawing keys are derived from ``lrplot.options`` (the same
declaration the command line's options come from). Problems are collected as
``_Problem`` (a path of keys and indices, and a message) and formatted as
``file:line:col: entry 'name': field: message``.

Example:
    >>> check_name("cosine-150")
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from lrplot import registry
from lrplot.errors import ConfigError, UsageError
from lrplot.options import DISPLAY, Option, run_options

#: the largest config file accepted, in bytes.
MAX_BYTES = 1_000_000
#: the deepest nesting of mappings and lists accepted.
MAX_DEPTH = 20
#: the most entries one config may have.
MAX_ENTRIES = 1000
#: output formats: images, and ``html`` for each entry's interactive page.
FORMATS = ("png", "svg", "pdf", "html")
_RESERVED = {"readme", "index", "contact-sheet"}
_CORE_TAG = "tag:yaml.org,2002:"

Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------- errors


class _Problem(Exception):
    """Problems at places in the config: ``(path of keys and indices, message, at_key)``."""

    def __init__(self, path: Path_, message: str, *, at_key: bool = False) -> None:
        super().__init__(message)
        self.items = [(path, message, at_key)]


@contextlib.contextmanager
def _at(path: Path_, name: str = "", keys: Mapping[str, Path_] | None = None) -> Iterator[None]:
    """Report a library ``UsageError`` at the key it is about (``exc.key``), else at ``path``.

    The ``cosine --T_max`` that starts a message about a kwarg is dropped: the config
    path names the key already.
    """
    try:
        yield
    except UsageError as exc:
        _yaml_hint(exc)
        kpath = (keys or {}).get(exc.key or "")
        if kpath is not None:
            raise _Problem(
                kpath, str(exc).removeprefix(f"{name} --{exc.key} "), at_key=exc.at_key
            ) from None
        raise _Problem(path, str(exc)) from None


def _yaml_hint(exc: UsageError) -> None:
    """Say a missing kwarg's fix in YAML: ``add kwargs: {step_size: ...}``, not ``--step_size``.

    Example:
        >>> exc = UsageError("step needs step_size", hint="add --step_size INT")
        >>> _yaml_hint(exc); exc.hint
        'add kwargs: {step_size: ...}'
    """
    flags = re.fullmatch(r"add((?: --\w+ \S+)+)", exc.hint or "")
    if flags:
        keys = re.findall(r"--(\w+) \S+", flags.group(1))
        exc.hint = "add kwargs: {" + ", ".join(f"{k}: ..." for k in keys) + "}"


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
        raise ValueError(
            f"entry names may not start with '.' or '-' nor end with '.'; got {name!r}"
        )
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
        raise ConfigError(
            f"{path}: the config is larger than {MAX_BYTES:,} bytes",
            hint="split it into several configs",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: the config is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


#: ruamel's words for a line indented wrong (a key too far left or right of its siblings).
_INDENT_PROBLEMS = (
    "mapping values are not allowed here",
    "did not find expected key",
    "expected <block end>",
    "could not find expected ':'",
    "did not find expected '-' indicator",
)


def _yaml_error(exc: Exception, label: str, text_in: str = "") -> ConfigError:
    """Turn a ruamel error into a ``ConfigError`` that names the line and column.

    A tab or a wrong indent gets a hint; a repeated key names the lines of both.
    """
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    start = getattr(exc, "context_mark", None)
    where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label
    text = " ".join(str(getattr(exc, "problem", None) or str(exc).splitlines()[0]).split())
    context = " ".join(str(getattr(exc, "context", None) or "").split())
    if type(exc).__name__ == "DuplicateKeyError":
        key = re.search(r'duplicate key "([^"]*)"', text)
        name = key.group(1) if key else "?"
        first = _first_key(text_in, name, start, mark) if key and mark is not None else None
        before = f" (first at line {first[0] + 1}, column {first[1] + 1})" if first else ""
        return ConfigError(
            f"{where}: duplicate key '{name}'{before}: a key may appear once in a mapping",
            hint=f"keep one '{name}:' and delete the other",
        )
    hint = None
    if "'\\t'" in text or "\t" in text:
        hint = "YAML indents with spaces, not tabs: replace the tab with spaces"
    elif mark is not None and any(p in text for p in _INDENT_PROBLEMS):
        hint = (
            f"check the indentation of line {mark.line + 1} and the line above it: keys of one "
            "mapping start in the same column, a nested mapping further right"
        )
    if context and context not in text:
        since = (
            f" (from {start.line + 1}:{start.column + 1})"
            if start is not None and mark is not None and start.line != mark.line
            else ""
        )
        text = f"{context}{since}: {text}"
    return ConfigError(f"{where}: YAML syntax error: {text}", hint=hint)


def _first_key(text: str, key: str, start: Any, dup: Any) -> tuple[int, int] | None:
    """Return (line, column), 0-based, of the first ``key:`` in the mapping that repeats it."""
    lines = text.splitlines()
    pattern = re.compile(rf"(?<![\w.-]){re.escape(key)}\s*:")
    first_line = start.line if start is not None else 0
    for number in range(first_line, min(dup.line, len(lines) - 1) + 1):
        line = lines[number]
        stop = dup.column if number == dup.line else len(line)
        for found in pattern.finditer(line, 0, stop):
            if number != dup.line or found.start() < dup.column:
                same_column = found.start() == dup.column or number == dup.line
                if same_column or start is None or found.start() > start.column:
                    return number, found.start()
    return None


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
                    raise fail(
                        event,
                        f"'%YAML {version}' is not supported; configs are "
                        "YAML 1.2 (remove the %YAML line)",
                    )
            if not isinstance(event, ev.NodeEvent):
                if isinstance(event, ev.CollectionEndEvent) and stack:
                    stack.pop()
                continue
            is_key = bool(stack) and stack[-1][0] == 1 and stack[-1][1] % 2 == 0
            if stack:
                stack[-1][1] += 1
            if isinstance(event, ev.AliasEvent):
                raise fail(
                    event,
                    f"aliases (*{event.anchor}) are not allowed in a config; write the value out",
                )
            if event.anchor is not None:
                raise fail(
                    event,
                    f"anchors (&{event.anchor}) are not allowed in a config; write each value out",
                )
            tag = getattr(event, "tag", None)
            if tag is not None:
                tag = str(tag).replace(_CORE_TAG, "!!", 1)
                raise fail(
                    event,
                    f"tag '{tag}' is not allowed: a config is plain data "
                    "(numbers, text, true/false, lists, mappings)",
                )
            if is_key and not isinstance(event, ev.ScalarEvent):
                raise fail(event, "a mapping key must be plain text, not a list or mapping")
            value, style = getattr(event, "value", None), getattr(event, "style", None)
            if is_key and value == "<<" and style is None:
                raise fail(event, "merge keys (<<) are not allowed in a config; write the keys out")
            if isinstance(event, ev.CollectionStartEvent):
                stack.append([int(isinstance(event, ev.MappingStartEvent)), 0])
                if len(stack) > MAX_DEPTH:
                    raise fail(event, f"the config nests deeper than {MAX_DEPTH} levels")
    except YAMLError as exc:
        raise _yaml_error(exc, label, text) from None


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
        raise _yaml_error(exc, label, text) from None
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
                raise ConfigError(
                    f"{source.where(sub, at_key=True)}: key {key!r} is not text; quote it: '{key}'"
                )
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
    if not items or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 for v in items
    ):
        raise ValueError(f"expected a positive number or a list of them, got {value!r}")
    return [float(v) for v in items]


def _metric(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in items):
        raise ValueError(
            "expected a number, a list of numbers, an expression of epoch (or step) or "
            f"@file.csv[:column], got {value!r}"
        )
    return [float(v) for v in items]


#: YAML 1.1 booleans, read as text by YAML 1.2: lrplot takes them for true/false wherever
#: a true/false is expected (drawing keys here, scheduler kwargs in ``lrplot.spec``).
BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _bool(value: Any) -> Any:
    """Accept true/false and the YAML 1.1 words yes/no, on/off (any case)."""
    if isinstance(value, str) and value.strip().lower() in BOOL_WORDS:
        return BOOL_WORDS[value.strip().lower()]
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false (or yes/no, on/off), got {value!r}")


def _formats(value: Any) -> Any:
    try:
        return None if value is None else parse_formats(value)
    except UsageError as exc:
        raise ValueError(exc.message) from None


def parse_formats(value: str | Iterable[str]) -> tuple[str, ...]:
    """Return the formats of ``png,svg`` (or a list), checked and de-duplicated.

    ``html`` adds an interactive page per entry; it needs an image format for the index.

    Example:
        >>> parse_formats("SVG, png,svg")
        ('svg', 'png')
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise UsageError(f"formats are png, svg, pdf or html; got {item!r}")
        name = item.strip().lower().lstrip(".")
        if name not in FORMATS:
            raise UsageError(
                f"unknown image format {item.strip()!r}",
                hint=registry.suggest(name, list(FORMATS)) or "use png, svg, pdf or html",
            )
        if name not in out:
            out.append(name)
    if not out or out == ["html"]:
        raise UsageError("no image format given", hint="use e.g. png,svg or png,html")
    return tuple(out)


def _yaml_type(opt: Option) -> Any:
    """Return the pydantic type of an option's YAML value (always optional)."""
    if opt.kind == "lr":
        return Annotated[Any, BeforeValidator(_lr)]
    if opt.kind == "metric":
        return Annotated[Any, BeforeValidator(_metric)]
    if opt.kind == "choice":
        return Literal[opt.choices] | None  # type: ignore[valid-type]
    if opt.kind == "bool":
        return Annotated[Any, BeforeValidator(_bool)]
    base = {"int": int, "float": float, "bool": bool, "text": str}[opt.kind]
    bounds = {
        k: v
        for k, v in (("ge", opt.minimum), ("le", opt.maximum), ("gt", opt.above))
        if v is not None
    }
    limits: Any = bounds
    return (Annotated[base, Field(**limits)] if bounds else base) | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _model(name: str, options: Iterable[Option], *bases: type[BaseModel]) -> Any:
    fields: dict[str, Any] = {o.name: (_yaml_type(o), None) for o in options}
    return create_model(name, __base__=bases or (_Model,), **fields)


#: keys every run may set (entries, compare items, defaults); a metric is set per entry.
_Run = _model("_Run", [o for o in run_options(spec=True) if o.name != "metric"])
_Metric = Annotated[Any, BeforeValidator(_metric)]
#: drawing keys (entries, defaults).
_Look = _model("_Look", [o for o in DISPLAY if o.yaml])
#: drawing defaults of a gallery entry (annotations on, unlike the command line).
LOOK_DEFAULTS = {
    o.name: o.yaml_default if o.yaml_default is not None else o.default for o in DISPLAY if o.yaml
}


class _Defaults(_Run, _Look):  # type: ignore[valid-type, misc]
    formats: Annotated[Any, BeforeValidator(_formats)] = None


class _Top(_Model):
    defaults: dict[str, Any] | None = None
    entries: dict[str, Any]


class _Sub(_Model):
    scheduler: str
    kwargs: dict[str, Any] | None = None


class _Item(_Sub, _Run):  # type: ignore[valid-type, misc]
    label: str | None = None
    metric: _Metric = None


class _Common(_Run, _Look):  # type: ignore[valid-type, misc]
    title: str | None = None
    description: str | None = None
    metric: _Metric = None
    requires: list[str] | None = None


class _Single(_Common, _Sub):
    sweep: dict[str, Annotated[list[Any], Field(min_length=1, max_length=12)]] | None = Field(
        None, min_length=1
    )


class _Config(_Common):
    config: str
    kind: str | None = None


class _Compare(_Common):
    compare: list[Any] = Field(min_length=1, max_length=12)
    layout: Literal["overlay", "grid"] | None = None


_WHERE = {
    _Top: "at the top level",
    _Defaults: "in defaults",
    _Item: "in a compare item",
    _Sub: "in a nested scheduler",
}


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
        return (
            (*path, *loc),
            f"unknown key '{loc[-1]}' {_WHERE.get(model, 'in an entry')}"
            + (f" ({hint})" if hint else "; allowed: " + ", ".join(model.model_fields)),
            True,
        )
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
        lines.append(
            (
                where,
                f"{where}: "
                + (f"entry '{entry}': " if entry is not None else "")
                + (f"{_dotted(inner)}: " if inner else "")
                + message,
            )
        )
    return [text for _, text in sorted(lines, key=lambda line: _line_col(line[0]))]


def _line_col(where: str) -> tuple[int, int]:
    line, col = where.rsplit(":", 2)[1:]
    return int(line), int(col)
