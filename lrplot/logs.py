"""Read the learning rate a training run logged: HF, Lightning, TensorBoard, W&B, CSV.

Each reader returns a ``TrainingLog``: the steps as the file writes them, the lr logged
at each, and the step base that pairs a logged step ``s`` with optimizer step
``s - base`` (the 0-based row of a planned schedule). The base is the writer's own
convention, measured with real runs (``tests/frameworks/training_logs.py``):

- Hugging Face ``trainer_state.json`` (``log_history[*].learning_rate``): ``step`` is the
  global step counted after the update, and the value is the lr that update used
  (transformers 4.51 and later): base 1. Up to 4.50 it was the next step's lr; a
  ``config.json`` next to the file that names such a version gives base 0.
- Lightning ``CSVLogger`` ``metrics.csv`` with ``LearningRateMonitor`` columns (``lr-SGD``,
  ``lr-AdamW/pg1``): ``step`` counts the optimizer steps done before the logged one: base 0.
  With gradient accumulation a step repeats once per micro-batch; the first is kept.
- TensorBoard event files (``SummaryWriter``; tensorboard's own reader, every point kept):
  base 0, or 1 when the Hugging Face Trainer wrote them (``train/learning_rate`` with its
  ``args`` text summary). Every event file of a directory is read (a resumed run adds
  one); a step written twice keeps the later value.
- A W&B panel's CSV export (``Step``, then ``<run> - <metric>`` with ``__MIN``/``__MAX``):
  base 1 when its x axis is the Trainer's ``train/global_step``, else 0.
- A plain CSV: a ``step`` column (or ``--step-column``) and an lr column, or one row
  every ``--log-every`` steps.

Example:
    >>> log = read_log("tests/data/logs/hf/ok/trainer_state.json")
    >>> log.format, log.base, log.rows[:3].tolist()
    ('hf', 1, [0, 1, 2])
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lrplot.errors import UsageError

__all__ = ["FORMATS", "TrainingLog", "read_log"]

FORMATS: tuple[str, ...] = ("hf", "lightning", "tensorboard", "wandb", "csv")
_WHAT = {
    "hf": "Hugging Face trainer_state.json",
    "lightning": "Lightning metrics.csv",
    "tensorboard": "TensorBoard events",
    "wandb": "W&B CSV export",
    "csv": "CSV",
}
_LR_NAME = re.compile(r"(^|[^a-z])(lr|learning[_ ]?rate)([^a-z]|$)", re.I)
_NOT_LR = re.compile(r"-(momentum|beta\d?|weight_decay)$|__(MIN|MAX)$")
_EVENTS = "events.out.tfevents"


@dataclass
class TrainingLog:
    """The lr a training run logged, and how its steps pair with optimizer steps.

    Attributes:
        steps: the steps as the file writes them (ascending, unique).
        lr: the lr logged at each step.
        base: logged step ``s`` is optimizer step ``s - base``.
        format: one of ``FORMATS``.
        path: the file or directory read.
        name: the column, tag or run read.
        others: the other lr columns, tags or runs it holds.
        writer: who wrote it, when the file says (``Hugging Face Trainer``).
        float32: the values were stored as 32-bit floats (about 6e-8 relative error).
        notes: what was chosen or dropped while reading.
    """

    steps: np.ndarray
    lr: np.ndarray
    base: int
    format: str
    path: str
    name: str
    others: list[str] = field(default_factory=list)
    writer: str = ""
    float32: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> np.ndarray:
        """Return the optimizer step (0-based) of each logged value."""
        return self.steps - self.base

    @property
    def source(self) -> str:
        """Return what was read, e.g. ``Lightning metrics.csv, column lr-SGD``."""
        kind = "tag" if self.format == "tensorboard" else "column"
        return f"{_WHAT[self.format]}, {kind} {self.name}"

    @property
    def pairing(self) -> str:
        """Return how logged steps pair with optimizer steps, in words."""
        if self.base == 0:
            return "logged step s is optimizer step s (0-based)"
        return f"logged step s is optimizer step s-{self.base} (counted after the update)"


def _suggest(word: str, names: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(names), n=1, cutoff=0.5)
    return f"did you mean {close[0]}?" if close else None


def _pick(
    names: Sequence[str], wanted: str | None, what: str, path: Path, *, runs: bool = False
) -> tuple[str, list[str]]:
    """Return the lr column (or tag) to read and the other candidates."""
    candidates = [n for n in names if _LR_NAME.search(n) and not _NOT_LR.search(n)]
    if wanted is not None:
        if wanted in names:
            return wanted, [n for n in candidates if n != wanted]
        if runs:  # a W&B run name: the column of that run
            found = [n for n in candidates if n.startswith(f"{wanted} - ")]
            if len(found) == 1:
                return found[0], [n for n in candidates if n != found[0]]
        raise UsageError(
            f"{path} has no {what} {wanted!r}; its {what}s: {', '.join(names) or 'none'}",
            hint=_suggest(wanted, names),
            key="column",
        )
    if not candidates:
        raise UsageError(
            f"{path} has no {what} named lr or learning_rate; its {what}s: "
            + (", ".join(names) or "none"),
            hint=f"choose one with --column{' (a tag)' if what == 'tag' else ''}",
            key="column",
        )
    return candidates[0], candidates[1:]


def _number(text: Any, where: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"{where}: the lr is {value}")
    return value


def _step(text: Any, where: str) -> int:
    value = _number(text, where)
    if not value.is_integer() or value < 0:
        raise UsageError(f"{where}: expected a step (an integer >= 0), got {text!r}")
    return int(value)


def _unique(
    steps: list[int], values: list[float], keep: str, log: TrainingLog, why: str
) -> tuple[np.ndarray, np.ndarray]:
    """Sort by step; a repeated step keeps its first or last value (and says so)."""
    chosen: dict[int, float] = {}
    repeated = 0
    for s, v in zip(steps, values, strict=True):
        if s in chosen:
            repeated += 1
            if keep == "first":
                continue
        chosen[s] = v
    if repeated:
        log.notes.append(f"{repeated} repeated steps ({why}): the {keep} value of each is kept")
    order = sorted(chosen)
    return np.asarray(order, dtype=np.int64), np.asarray([chosen[s] for s in order])


def _empty(path: Path, name: str) -> UsageError:
    return UsageError(f"{path} holds no lr values in {name!r}", key="log_file")


# --------------------------------------------------------------------------- readers


def _read_hf(path: Path, column: str | None) -> TrainingLog:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {path} as JSON: {exc}", key="log_file") from None
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise UsageError(f"{path} is not a trainer_state.json: it has no log_history list")
    name = column or "learning_rate"
    keys = sorted({k for e in history if isinstance(e, dict) for k in e})
    entries = [e for e in history if isinstance(e, dict) and name in e and "step" in e]
    if not entries:
        if column is not None and column not in keys:
            raise UsageError(
                f"{path} logs no {column!r}; its keys: {', '.join(keys)}",
                hint=_suggest(column, keys),
                key="column",
            )
        raise _empty(path, name)
    log = TrainingLog(np.empty(0), np.empty(0), 1, "hf", str(path), name)
    log.writer = "the Hugging Face Trainer"
    steps = [_step(e["step"], f"{path}: log_history step") for e in entries]
    values = [_number(e[name], f"{path}: step {e['step']}") for e in entries]
    log.steps, log.lr = _unique(steps, values, "last", log, "a resumed run logged them again")
    version = _transformers_version(path.parent)
    if version is not None and version < (4, 51):
        log.base = 0
        log.notes.append(
            "transformers up to 4.50 logged the lr of the step after the logged one "
            f"(config.json names {'.'.join(map(str, version))}): logged step s is optimizer "
            "step s"
        )
    return log


def _transformers_version(directory: Path) -> tuple[int, ...] | None:
    """Return the transformers version a ``config.json`` beside the log names, if any."""
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        text = str(config["transformers_version"])
        return tuple(int(p) for p in re.findall(r"\d+", text)[:2])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read {path} as CSV: {exc}", key="log_file") from None


def _read_lightning(path: Path, column: str | None) -> TrainingLog:
    names, rows = _read_rows(path)
    if "step" not in names:
        raise UsageError(f"{path} has no step column; its columns: {', '.join(names)}")
    lr_columns = [n for n in names if n.startswith("lr-") and not _NOT_LR.search(n)]
    name, others = _pick(names if column else lr_columns or names, column, "column", path)
    log = TrainingLog(np.empty(0), np.empty(0), 0, "lightning", str(path), name)
    log.writer, log.others = "Lightning", others
    if name.startswith("lr-"):
        log.writer = "Lightning's LearningRateMonitor"
    log.float32 = not name.startswith("lr-")  # self.log stores float32 tensors
    steps, values = [], []
    for line, row in enumerate(rows, start=2):
        if row.get(name, "") in ("", None):
            continue
        steps.append(_step(row["step"], f"{path}:{line}"))
        values.append(_number(row[name], f"{path}:{line}"))
    if not steps:
        raise _empty(path, name)
    log.steps, log.lr = _unique(
        steps, values, "first", log, "one row per micro-batch with gradient accumulation"
    )
    return log


def _read_wandb(path: Path, column: str | None) -> TrainingLog:
    names, rows = _read_rows(path)
    x = names[0]
    values_cols = [n for n in names[1:] if not n.endswith(("__MIN", "__MAX"))]
    name, others = _pick(values_cols, column, "column", path, runs=True)
    base = 1 if x == "train/global_step" else 0
    log = TrainingLog(np.empty(0), np.empty(0), base, "wandb", str(path), name, others=others)
    if base:
        log.writer = "the Hugging Face Trainer (its W&B x axis is train/global_step)"
    steps, values = [], []
    for line, row in enumerate(rows, start=2):
        if row.get(name, "") in ("", None):
            continue
        steps.append(_step(row[x], f"{path}:{line}"))
        values.append(_number(row[name], f"{path}:{line}"))
    if not steps:
        raise _empty(path, name)
    log.steps, log.lr = _unique(steps, values, "last", log, "the export repeats them")
    return log


def _read_csv(
    path: Path, column: str | None, step_column: str | None, every: int | None
) -> TrainingLog:
    names, rows = _read_rows(path)
    if step_column is not None and step_column not in names:
        raise UsageError(
            f"{path} has no column {step_column!r}; its columns: {', '.join(names)}",
            hint=_suggest(step_column, names),
            key="step_column",
        )
    steps_col = step_column or next(
        (n for n in names if n.lower() in ("step", "global_step", "iteration", "iter")), None
    )
    rest = [n for n in names if n != steps_col]
    name, others = _pick(rest, column, "column", path)
    log = TrainingLog(np.empty(0), np.empty(0), 0, "csv", str(path), name, others=others)
    steps, values = [], []
    for line, row in enumerate(rows, start=2):
        if row.get(name, "") in ("", None):
            continue
        values.append(_number(row[name], f"{path}:{line}"))
        if steps_col is not None:
            steps.append(_step(row[steps_col], f"{path}:{line}"))
    if not values:
        raise _empty(path, name)
    if steps_col is None:
        k = every or 1
        steps = [j * k for j in range(len(values))]
        log.notes.append(
            f"no step column: row j is step {k}·j" + (" (--log-every)" if every else "")
        )
    elif every is not None:
        log.notes.append(f"--log-every {every} is not used: the file has a step column")
    log.steps, log.lr = _unique(steps, values, "last", log, "written twice")
    return log


def _event_dir(path: Path) -> Path:
    """Return the directory (or file) of event files to read under ``path``."""
    if path.is_file():
        return path
    if any(p.name.startswith(_EVENTS) for p in path.iterdir()):
        return path
    found = sorted({p.parent for p in path.rglob(f"{_EVENTS}*")})
    if len(found) == 1:
        return found[0]
    raise UsageError(
        f"{path} holds event files in {len(found)} directories: "
        + ", ".join(str(p) for p in found[:6]),
        hint="pass the directory of one run",
        key="log_file",
    )


def _read_tensorboard(path: Path, column: str | None) -> TrainingLog:
    try:
        from tensorboard.backend.event_processing import event_accumulator as ea
    except ImportError:
        raise UsageError(
            "reading TensorBoard event files needs the tensorboard package",
            hint="pip install 'lrplot[tensorboard]'",
            key="log_file",
        ) from None
    target = _event_dir(path)
    # size guidance 0 keeps every point (the default keeps 10,000 per tag, sampled)
    accumulator = ea.EventAccumulator(str(target), size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    try:
        accumulator.Reload()
    except Exception as exc:  # a truncated or foreign file
        raise UsageError(f"cannot read the event files in {target}: {exc}") from None
    tags = accumulator.Tags()
    scalars = list(tags.get("scalars", []))
    name, others = _pick(scalars, column, "tag", target)
    hf = name == "train/learning_rate" and "args/text_summary" in tags.get("tensors", [])
    log = TrainingLog(np.empty(0), np.empty(0), 1 if hf else 0, "tensorboard", str(target), name)
    log.others, log.float32 = others, True
    log.writer = "the Hugging Face Trainer's TensorBoard callback" if hf else ""
    events = sorted(accumulator.Scalars(name), key=lambda e: e.wall_time)
    if not events:
        raise _empty(target, name)
    steps = [int(e.step) for e in events]
    values = [_number(e.value, f"{target}: step {e.step}") for e in events]
    log.steps, log.lr = _unique(steps, values, "last", log, "a resumed run wrote them again")
    return log


# --------------------------------------------------------------------------- dispatch


def detect(path: Path) -> tuple[str, Path]:
    """Return the format of a log and the file to read (a directory may hold it).

    Raises:
        UsageError: the path does not exist or holds no log lrplot reads.

    Example:
        >>> detect(Path("tests/data/logs/lightning/ok"))[0]
        'lightning'
    """
    if not path.exists():
        raise UsageError(f"training log {str(path)!r} does not exist", key="log_file")
    if path.is_dir():
        if (path / "trainer_state.json").is_file():
            return "hf", path / "trainer_state.json"
        if (path / "metrics.csv").is_file():
            return "lightning", path / "metrics.csv"
        if any(True for _ in path.rglob(f"{_EVENTS}*")):
            return "tensorboard", path
        raise UsageError(
            f"{path} holds no trainer_state.json, metrics.csv or TensorBoard event files",
            hint="pass the log file itself and --format",
            key="log_file",
        )
    if path.name.startswith(_EVENTS):
        return "tensorboard", path
    if path.suffix.lower() == ".json":
        return "hf", path
    names = _read_rows(path)[0]
    if "step" in names and any(n.startswith("lr-") for n in names):
        return "lightning", path
    if any(" - " in n for n in names[1:]) and any(n.endswith("__MIN") for n in names):
        return "wandb", path
    return "csv", path


def read_log(
    path: str | Path,
    *,
    format: str = "auto",
    column: str | None = None,
    step_column: str | None = None,
    step_base: str = "auto",
    log_every: int | None = None,
) -> TrainingLog:
    """Read the lr a training run logged (see the module docstring for the formats).

    Args:
        path: the log file, or a directory that holds one (an HF ``output_dir``, a
            Lightning ``version_N`` directory, a TensorBoard log directory).
        format: one of ``FORMATS``, or ``auto`` (from the file).
        column: the lr column, W&B run or TensorBoard tag; default the one named lr.
        step_column: a plain CSV's step column (default ``step`` if it has one).
        step_base: ``0`` or ``1`` to override the writer's convention, or ``auto``.
        log_every: a plain CSV without steps holds one row every ``log_every`` steps.

    Raises:
        UsageError: the log is missing, unreadable, or has no such column; tensorboard
            is needed and not installed.

    Example:
        >>> log = read_log("tests/data/logs/csv/ok_no_steps/lr.csv", log_every=3)
        >>> log.steps.tolist()
        [0, 3, 6, 9]
    """
    path = Path(path)
    if format not in ("auto", *FORMATS):
        raise UsageError(
            f"--format must be auto or one of {', '.join(FORMATS)}, got {format!r}",
            hint=_suggest(format, list(FORMATS)),
            key="format",
        )
    if step_base not in ("auto", "0", "1"):
        raise UsageError(f"--step-base must be auto, 0 or 1, got {step_base!r}", key="step_base")
    found, target = detect(path)
    if format != "auto":
        found = format
        if found == "tensorboard":
            target = path
        elif path.is_dir() and found == "hf":
            target = path / "trainer_state.json"
        elif path.is_dir():
            raise UsageError(f"--format {format} reads a file, not the directory {path}")
    if found == "hf":
        log = _read_hf(target, column)
    elif found == "lightning":
        log = _read_lightning(target, column)
    elif found == "tensorboard":
        log = _read_tensorboard(target, column)
    elif found == "wandb":
        log = _read_wandb(target, column)
    else:
        log = _read_csv(target, column, step_column, log_every)
    if step_base != "auto" and int(step_base) != log.base:
        log.notes.append(f"--step-base {step_base} (the writer's convention is {log.base})")
        log.base = int(step_base)
    return log
