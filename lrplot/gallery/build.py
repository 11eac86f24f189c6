"""Gallery entries: each config entry validated and built into specs and a ``Request``.

Values go to ``lrplot.spec`` typed, as YAML gave them; an error names the key it is about
(``UsageError.key``), so it is reported at that key's line and column.

Example:
    >>> gallery = load_text("entries: {c: {scheduler: cosine, kwargs: {T_max: 5}}}")
    >>> gallery.entries[0].command
    'lrplot cosine --T_max 5'
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from lrplot import registry
from lrplot.errors import ConfigError
from lrplot.gallery.config import (
    LOOK_DEFAULTS,
    MAX_ENTRIES,
    Path_,
    _at,
    _Compare,
    _Config,
    _Defaults,
    _format,
    _Item,
    _kind,
    _load_yaml,
    _Problem,
    _read,
    _Single,
    _Source,
    _Sub,
    _Top,
    _validate,
    check_name,
)
from lrplot.metric import metric_values
from lrplot.options import RUN_KEYS, DisplayOptions
from lrplot.pipeline import Request, display_flags, sweep_command
from lrplot.plugins import imports_allowed, imports_are_allowed, scheduler_info
from lrplot.spec import (
    ScheduleSpec,
    make_spec,
    parse_spec,
    parse_value,
    quote_words,
    sweep,
)

#: the most optimizer steps one entry may simulate (all its curves together).
MAX_STEPS = 10_000_000


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
    description: str | None = None
    display: DisplayOptions = field(default_factory=DisplayOptions)
    layout: Literal["overlay", "grid"] = "overlay"
    axes: list[tuple[str, list[Any]]] = field(default_factory=list)

    @property
    def specs(self) -> list[ScheduleSpec]:
        """Return every spec of the entry, row by row."""
        return [s for row in self.grid for s in row]

    def request(self, outputs: list[str], thumbnail: tuple[str, int] | None = None) -> Request:
        """Return the pipeline request that renders this entry into ``outputs``."""
        return Request(
            self.grid,
            replace(self.display, out=outputs),
            kind=self.kind,
            layout=self.layout,
            command=self.command,
            max_steps=MAX_STEPS,
            thumbnail=thumbnail,
            more="see README.md",
            axes=self.axes,
        )


@dataclass
class Gallery:
    """A loaded config: the valid entries, the problems of the others, the formats.

    ``broken`` maps the name of each entry the config could not build to its located
    messages (one per line); ``names`` lists every entry name in the config's order.
    """

    path: Path
    entries: list[Entry]
    problems: list[str]
    formats: tuple[str, ...] | None = None
    total: int = 0
    broken: dict[str, str] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    #: located messages of the entries skipped because a package they need is missing.
    skipped: list[str] = field(default_factory=list)


class _Skip(Exception):
    """An entry whose ``requires:`` names a package that is not installed."""


def _missing(packages: list[str] | None) -> list[str]:
    """Return the packages of ``requires:`` that cannot be imported here."""
    import importlib.util

    missing = []
    for package in packages or []:
        try:
            found = importlib.util.find_spec(package) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(package)
    return missing


def _info(scheduler: str, path: Path_) -> Any:
    """Return the registry entry of the ``scheduler:`` at ``path``."""
    with _at((*path, "scheduler")):
        return scheduler_info(registry.canonical_name(scheduler))


def _class_path(raw: Any, path: Path_) -> Any:
    """Read ``class_path``/``init_args`` (LightningCLI's form) as ``scheduler``/``kwargs``."""
    if not isinstance(raw, dict) or "class_path" not in raw:
        return raw
    for key in ("scheduler", "kwargs"):
        if key in raw:
            raise _Problem(
                (*path, key),
                f"an entry has either class_path: (with init_args:) or {key}:, not both",
                at_key=True,
            )
    out = {k: v for k, v in raw.items() if k not in ("class_path", "init_args")}
    out["scheduler"] = raw["class_path"]
    if raw.get("init_args") is not None:
        out["kwargs"] = raw["init_args"]
    return out


def _build(
    scheduler: str,
    kwargs: dict[str, Any] | None,
    run: dict[str, Any],
    path: Path_,
    keys: Mapping[str, Path_] | None = None,
) -> ScheduleSpec:
    """Build the spec of a ``scheduler``/``kwargs`` mapping; report errors at their keys.

    ``keys`` places kwargs that are not under ``kwargs:`` (a sweep's first values).
    """
    info = _info(scheduler, path)
    scheduler = registry.canonical_name(scheduler)
    kwargs = dict(kwargs or {})
    kpaths = {key: (*path, "kwargs", key) for key in kwargs} | dict(keys or {})
    for key, raw in kwargs.items():
        kw, kpath = info.kwarg(key), kpaths[key]
        if kw is None and key in RUN_KEYS:
            raise _Problem(
                kpath,
                f"'{key}' is a run option, not a kwarg of {info.name}: write "
                "it beside kwargs:, not inside",
                at_key=True,
            )
        if kw is not None and kw.kind == "specs":
            subs = raw if isinstance(raw, list) else [raw]
            kwargs[key] = [
                _sub(item, (*kpath, i) if isinstance(raw, list) else kpath)
                for i, item in enumerate(subs)
            ]
        elif kw is not None and key not in info.from_run:
            with _at(kpath, info.name, {key: kpath}):
                parse_value(kw, raw, info.name)
    with _at((*path, "scheduler"), info.name, kpaths):
        return make_spec(scheduler, kwargs, **run)


def _sub(item: Any, path: Path_) -> ScheduleSpec:
    """Return one nested scheduler of sequential/chained: a SPEC string or a mapping."""
    if isinstance(item, str):
        with _at(path):
            return parse_spec(item)
    sub = _validate(_Sub, _class_path(item, path), path)
    return _build(sub.scheduler, sub.kwargs, {}, path)


def _check_metric(spec: ScheduleSpec, path: Path_) -> None:
    """Refuse a metric given to a scheduler other than plateau, or one that cannot be read."""
    if not spec.metric_driven:
        raise _Problem(
            (*path, "metric"),
            f"only plateau (ReduceLROnPlateau) uses a metric; {spec.scheduler} ignores it",
            at_key=True,
        )
    with _at((*path, "metric")):
        metric_values(spec.metric, 1)


def _check_size(specs: list[ScheduleSpec], path: Path_) -> None:
    total = sum(s.resolved().n_steps for s in specs)
    if total > MAX_STEPS:
        raise _Problem(
            path,
            f"the entry simulates {total:,} optimizer steps; a gallery entry "
            f"may simulate at most {MAX_STEPS:,}",
        )


def _spec_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return (
            _spec_value(value[0])
            if len(value) == 1
            else "[" + ",".join(map(_spec_value, value)) + "]"
        )
    return str(value) if re.fullmatch(r"[\w.+-]+", str(value)) else repr(str(value))


def _spec_text(spec: ScheduleSpec, shared: ScheduleSpec | None = None) -> str:
    """Return the SPEC string of ``spec`` with its run options that differ from ``shared``
    (by default, from lrplot's defaults), strings in double quotes."""
    shared = shared or ScheduleSpec(spec.scheduler)
    extra = [
        f"{key}={_spec_value(getattr(spec, key))}"
        for key in RUN_KEYS
        if getattr(spec, key) not in (None, getattr(shared, key))
        and (key != "warmup_start_factor" or spec.warmup)
    ]
    text = spec.to_spec_string()
    if extra:
        text += ("," if spec.kwargs else ":") + ",".join(extra)
    return text if '"' in text else text.replace("'", '"')


def _flags(display: DisplayOptions) -> str:
    """Return the drawing options of an entry as command-line flags (with a leading space)."""
    words = display_flags(display)
    return " " + quote_words(words) if words else ""


def _entry(name: str, raw: Any, defaults: Any, source: _Source) -> Entry:
    """Validate and build one entry; raise ``_Problem`` with locations."""
    path: Path_ = ("entries", name)
    try:
        check_name(name)
    except ValueError as exc:
        raise _Problem(path, str(exc), at_key=True) from None
    if not isinstance(raw, dict):
        raise _Problem(
            path, f"an entry is a mapping (scheduler: ... or compare: ...), got {_kind(raw)}"
        )
    raw = _class_path(raw, path)
    if "config" in raw:
        return _config_entry(name, raw, defaults, source, path)
    if "compare" in raw and ("scheduler" in raw or "sweep" in raw):
        other = "scheduler" if "scheduler" in raw else "sweep"
        raise _Problem(
            (*path, "compare"), f"an entry has either compare: or {other}:, not both", at_key=True
        )
    if "compare" not in raw and "scheduler" not in raw:
        for key in raw:  # a misspelt scheduler:/compare: is reported at its own place
            hint = registry.suggest(key, ["scheduler", "compare"])
            if hint:
                raise _Problem(
                    (*path, key),
                    f"unknown key '{key}' in an entry ({hint}); an entry needs scheduler: "
                    "or compare:",
                    at_key=True,
                )
        raise _Problem(
            path,
            "an entry needs scheduler: (a schedule or sweep) or compare: (a list of schedules)",
        )
    data = _validate(_Compare if "compare" in raw else _Single, raw, path)
    missing = _missing(data.requires)
    if missing:
        raise _Skip(f"needs {', '.join(missing)}, which is not installed here")
    run = {
        k: v
        for layer in (defaults, data)
        for k in RUN_KEYS
        if (v := getattr(layer, k, None)) is not None
    }
    look = {  # log may stay None: lrplot chooses the axis
        k: next((v for v in (getattr(data, k), getattr(defaults, k)) if v is not None), default)
        for k, default in LOOK_DEFAULTS.items()
    }
    entry = Entry(
        name,
        "schedule",
        [],
        source.where(path, at_key=True),
        "",
        "",
        description=data.description,
        display=DisplayOptions(title=data.title, **look),
    )
    if isinstance(data, _Compare):
        _compare_entry(entry, data, run, path)
    elif data.sweep is not None:
        _sweep_entry(entry, data, run, path)
    else:
        spec = _build(data.scheduler, data.kwargs, run, path, _run_keys(path, data))
        if spec.metric is not None:
            _check_metric(spec, path)
        entry.grid, entry.spec_text = [[spec]], _spec_text(spec)
        entry.command = spec.to_command() + _flags(entry.display)
    _check_size(entry.specs, path)
    return entry


def _config_entry(
    name: str, raw: dict[str, Any], defaults: Any, source: _Source, path: Path_
) -> Entry:
    """Build an entry from a training config file (``config:``, beside the gallery file)."""
    from lrplot.configs import plan_from_file

    for key in ("scheduler", "compare", "sweep", "kwargs"):
        if key in raw:
            raise _Problem(
                (*path, key), f"an entry has either config: or {key}:, not both", at_key=True
            )
    data = _validate(_Config, raw, path)
    missing = _missing(data.requires)
    if missing:
        raise _Skip(f"needs {', '.join(missing)}, which is not installed here")
    file = Path(source.label).parent / data.config
    run = {k: v for k in RUN_KEYS if k != "label" and (v := getattr(data, k, None)) is not None}
    with _at((*path, "config")):
        request = plan_from_file(
            file, allow_import=imports_are_allowed(), overrides=run, kind=data.kind
        )
    look = {
        k: next((v for v in (getattr(data, k), getattr(defaults, k)) if v is not None), default)
        for k, default in LOOK_DEFAULTS.items()
    }
    chosen_x = data.x is None and getattr(defaults, "x", None) is None
    shown = DisplayOptions(title=data.title, **look)  # what the command line must say
    if chosen_x:
        look["x"] = request.display.x  # lrplot from chooses it the same way
    display = DisplayOptions(title=data.title or request.display.title, **look)
    spec = request.specs[0]
    _check_size([spec], path)
    words = ["lrplot", "from", str(file), *(["--kind", data.kind] if data.kind else [])]
    for key, value in run.items():
        flag = "--" + key.replace("_", "-")
        words += [flag] if value is True else [flag, _flag_value(value)]
    if imports_are_allowed() and file.suffix == ".py":
        words.append("--allow-import")
    command = quote_words(words) + _flags(shown)
    return Entry(
        name,
        "schedule",
        [[spec]],
        source.where(path, at_key=True),
        command,
        _spec_text(spec),
        description=data.description,
        display=display,
    )


def _flag_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def _run_keys(path: Path_, data: Any) -> dict[str, Path_]:
    """Return where each run option the entry sets sits (errors about it point there)."""
    return {k: (*path, k) for k in RUN_KEYS if getattr(data, k, None) is not None}


def _compare_entry(entry: Entry, data: _Compare, run: dict[str, Any], path: Path_) -> None:
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
            with _at(ipath):
                spec = parse_spec(item, **run)
            word = item.strip()
        elif isinstance(item, dict):
            model = _validate(_Item, _class_path(item, ipath), ipath)
            spec = _build(
                model.scheduler,
                model.kwargs,
                run | {k: v for k in RUN_KEYS if (v := getattr(model, k)) is not None},
                ipath,
                _run_keys(ipath, model),
            )
            if model.metric is not None:
                _check_metric(spec, ipath)
            word = _spec_text(spec, shared)
        else:
            raise _Problem(
                ipath, f"a compare item is a SPEC string or a mapping, got {_kind(item)}"
            )
        if not spec.metric_driven:
            spec.metric = None  # the entry's metric is for its plateau items
        spec.label = spec.label or word
        specs.append(spec)
        words.append(word)
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        twice = next(lb for lb in labels if labels.count(lb) > 1)
        raise _Problem(
            (*path, "compare"),
            f"two compare items have the label {twice!r}; give each a distinct label:",
        )
    entry.kind, entry.grid, entry.layout = "compare", [specs], data.layout or "overlay"
    entry.spec_text = "\n".join(_spec_text(replace(s, label=None)) for s in specs)
    entry.command = (
        shlex.join(["lrplot", "compare", *words])
        + shared.to_command().removeprefix("lrplot constant")
        + " --layout grid" * (entry.layout == "grid")
        + _flags(entry.display)
    )


def _sweep_entry(entry: Entry, data: _Single, run: dict[str, Any], path: Path_) -> None:
    """Fill in a sweep: the entry's spec with each swept kwarg's first value standing in."""
    assert data.sweep is not None
    spath = (*path, "sweep")
    keys = {key: (*spath, key) for key in data.sweep}
    info = _info(data.scheduler, path)
    kwargs = dict(data.kwargs or {})
    for key, values in data.sweep.items():
        if key in kwargs:
            raise _Problem(
                keys[key],
                f"'{key}' is both in kwargs: and swept; keep it in one place",
                at_key=True,
            )
        kw = info.kwarg(key)
        if kw is not None and kw.kind != "specs":
            for i, value in enumerate(values):
                with _at((*keys[key], i), info.name, {key: (*keys[key], i)}):
                    parse_value(kw, value, info.name)
        if key not in RUN_KEYS and values:  # as on the command line, the first value
            kwargs[key] = values[0]  # stands in for a swept kwarg (a required one, say)
    base = _build(data.scheduler, kwargs, run, path, {**_run_keys(path, data), **keys})
    if base.metric is not None:
        _check_metric(base, path)
    axes = list(data.sweep.items())
    with _at(spath, info.name, keys):
        entry.grid = sweep(base, axes)
    plain = ScheduleSpec(base.scheduler)
    stripped = replace(
        base,
        kwargs={k: v for k, v in base.kwargs.items() if k not in keys},
        **{k: getattr(plain, k) for k in keys if k in RUN_KEYS and info.kwarg(k) is None},
        label=None,
    )
    entry.kind, entry.axes = "sweep", axes
    entry.command = sweep_command(stripped, axes, entry.display)
    # copyable: the SPEC of every curve (for lrplot compare or a config's compare: list)
    entry.spec_text = "\n".join(_spec_text(replace(s, label=None)) for s in entry.specs)


# --------------------------------------------------------------------------- loading


def load_text(text: str, label: str = "<config>", *, allow_import: bool = False) -> Gallery:
    """Validate config text; return the good entries and a located message per bad one.

    Plug-in schedulers (``module:Name``), wherever a name sits, are imported only with
    ``allow_import``.

    Raises:
        ConfigError: a file-level problem (syntax, tags, aliases, unknown top-level key,
            bad defaults, no entries).
    """
    with imports_allowed(allow_import):
        return _load_text(text, label)


def _load_text(text: str, label: str) -> Gallery:
    data, source = _load_yaml(text, label)
    if data is None:
        raise ConfigError(f"{label}:1:1: the config is empty; it needs an entries: mapping")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source.where(())}: the config must be a mapping with entries: "
            f"(and optionally defaults:), got {_kind(data)}"
        )
    entries = data.get("entries")
    if isinstance(entries, list):
        raise ConfigError(
            f"{source.where(('entries',))}: entries: maps each entry name to its "
            "entry (write 'name:' lines), not a list"
        )
    if "entries" in data and not entries:
        raise ConfigError(
            f"{source.where(('entries',), at_key=True)}: entries: is empty; add at least one entry"
        )
    try:
        top = _validate(_Top, data, ())
        defaults = _validate(_Defaults, top.defaults or {}, ("defaults",))
    except _Problem as problem:
        raise ConfigError("\n".join(_format(source, problem, None))) from None
    if len(top.entries) > MAX_ENTRIES:
        raise ConfigError(
            f"{source.where(('entries',), at_key=True)}: the config has {len(top.entries):,} "
            f"entries; at most {MAX_ENTRIES:,}",
            hint="split it into several configs",
        )
    gallery = Gallery(Path(label), [], [], formats=defaults.formats, total=len(top.entries))
    seen: dict[str, str] = {}
    for name, raw in top.entries.items():
        path: Path_ = ("entries", name)
        gallery.names.append(name)
        try:
            if name.lower() in seen:
                raise _Problem(
                    path,
                    f"entry names must differ ignoring case: '{seen[name.lower()]}' already exists",
                    at_key=True,
                )
            seen[name.lower()] = name
            with _at(path):
                gallery.entries.append(_entry(name, raw, defaults, source))
        except _Skip as skip:
            gallery.total -= 1
            gallery.skipped.append(f"{source.where(path, at_key=True)}: entry '{name}': {skip}")
        except _Problem as problem:
            lines = _format(source, problem, name)
            gallery.problems.extend(lines)
            gallery.broken[name] = "\n".join(lines)
    return gallery


def load(path: str | Path, *, allow_import: bool = False) -> Gallery:
    """Read and validate a config file (see ``load_text``)."""
    path = Path(path)
    gallery = load_text(_read(path), str(path), allow_import=allow_import)
    gallery.path = path
    return gallery
