"""Training configs: the schedule a framework builds from the config you already have.

``plan_from_file`` reads a Hugging Face ``TrainingArguments`` file (JSON/YAML), a
LightningCLI YAML, an mmengine config (``.py``, YAML or JSON), a DeepSpeed
``ds_config.json`` or a timm ``args.yaml``, tells which it is, resolves the numbers the
framework computes from it (steps per epoch, total steps, warmup steps: with the installed
framework's own code where it decides them) and returns a pipeline ``Request`` whose spec
builds that framework's scheduler. ``lrplot from FILE`` is its command; ``lrplot verify``
uses it to plan a run from a config.

Run options given as ``overrides`` (``dataset_size``, ``world_size``, ``step_per``,
``frequency``, ``lr``, ...) win over the file; some are needed because no config file says
them (the dataset size, the world size of HF and timm runs).

Example:
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "args.json"
    >>> _ = path.write_text(json.dumps({"lr_scheduler_type": "cosine"}))
    >>> detect(path, json.loads(path.read_text()))
    'hf'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrplot.configs import deepspeed, hf, lightning, mmengine, timm
from lrplot.configs.common import Plan, read_data, typed_overrides
from lrplot.errors import UsageError
from lrplot.options import DisplayOptions
from lrplot.pipeline import Request
from lrplot.plugins import imports_allowed
from lrplot.registry import suggest

__all__ = ["KINDS", "Plan", "detect", "plan", "plan_from_file"]

#: the kinds of config, and what each is.
KINDS: dict[str, str] = {
    "hf": "Hugging Face TrainingArguments",
    "lightning": "LightningCLI config",
    "mmengine": "mmengine config",
    "deepspeed": "DeepSpeed config",
    "timm": "timm train.py args.yaml",
}


def detect(path: Path, data: Any) -> str:
    """Return the kind of a config from its file type and keys.

    Raises:
        UsageError: nothing in it says which framework it is for.
    """
    if path.suffix.lower() == ".py":
        return "mmengine"
    if not isinstance(data, Mapping):
        raise UsageError(
            f"{path}: a training config is a mapping of keys, got {type(data).__name__}"
        )
    keys = set(data)
    section = data.get("scheduler")
    if (isinstance(section, Mapping) and "type" in section) or keys & set(deepspeed.KEYS):
        return "deepspeed"
    if keys & set(mmengine.KEYS):
        return "mmengine"
    if lightning.is_lightning(data):
        return "lightning"
    if "sched" in keys and keys & ({"epochs", *timm.KEYS} - {"sched"}):
        return "timm"
    if keys & set(hf.KEYS) or "warmup_steps" in keys:
        return "hf"
    raise UsageError(
        f"{path}: cannot tell which framework this config is for",
        hint="lrplot reads HF TrainingArguments (lr_scheduler_type, ...), LightningCLI "
        "(trainer:, lr_scheduler:), mmengine (param_scheduler, train_cfg), DeepSpeed "
        "(scheduler: {type, params}) and timm args.yaml (sched, epochs); or give --kind",
    )


def plan(
    path: str | Path,
    *,
    allow_import: bool = False,
    overrides: Mapping[str, Any] | None = None,
    kind: str | None = None,
) -> Plan:
    """Return what a config file plans: the spec, the notes, the x axis (see ``plan_from_file``)."""
    path = Path(path)
    if kind is not None and kind not in KINDS:
        raise UsageError(
            f"--kind must be one of {', '.join(KINDS)}, got {kind!r}",
            hint=suggest(kind, list(KINDS)),
            key="kind",
        )
    python = path.suffix.lower() == ".py"
    if python and not allow_import:
        raise UsageError(
            f"{path} is a Python config: reading it runs its code, which lrplot does only "
            "with --allow-import",
            key="allow_import",
        )
    if python:
        from lrplot.engine import frameworks as fw

        data: Any = fw.mmengine_config(path)
    else:
        data = read_data(path)
        if (
            isinstance(data, Mapping)
            and "_base_" in data
            and (kind or detect(path, data)) == "mmengine"
        ):
            if not allow_import:
                raise UsageError(
                    f"{path} inherits _base_ configs, which mmengine reads as code: lrplot reads "
                    "them only with --allow-import",
                    key="allow_import",
                )
            from lrplot.engine import frameworks as fw

            data = fw.mmengine_config(path)
    kind = kind or detect(path, data)
    if not isinstance(data, Mapping):
        raise UsageError(f"{path}: a {KINDS[kind]} is a mapping of keys")
    rest = typed_overrides(overrides)
    with imports_allowed(allow_import):
        readers = {
            "hf": hf.plan,
            "lightning": lightning.plan,
            "mmengine": mmengine.plan,
            "deepspeed": deepspeed.plan,
            "timm": timm.plan,
        }
        found = readers[kind](data, path, rest)
    found.notes.append(f"same as: {found.spec.to_command()}")
    return found


def plan_from_file(
    path: str | Path,
    *,
    allow_import: bool = False,
    overrides: Mapping[str, Any] | None = None,
    kind: str | None = None,
) -> Request:
    """Return the pipeline request that draws and checks what a training config builds.

    Args:
        path: a TrainingArguments JSON/YAML, LightningCLI YAML, mmengine config, DeepSpeed
            ds_config.json or timm args.yaml.
        allow_import: consent to run code: a ``.py`` config, ``_base_`` inheritance, or a
            scheduler class the file names outside torch (like ``--allow-import``).
        overrides: run options that win over the file (``{"dataset_size": 50000,
            "world_size": 8}``), typed or as command-line text.
        kind: the kind (``hf``, ``lightning``, ``mmengine``, ``deepspeed``, ``timm``) when
            the file's keys do not tell it.

    Returns:
        A ``Request`` with one spec; ``request.notes`` say what was resolved and the
        equivalent ``lrplot`` command.

    Raises:
        UsageError: the file cannot be read or understood, or a number it needs is missing
            (exit 2).
        LrplotError: the framework is not installed (exit 1, with the pip command).

    Example:
        >>> request = plan_from_file("configs/frameworks/hf_cosine.json",
        ...                          overrides={"dataset_size": 1000})  # doctest: +SKIP
        >>> request.specs[0].scheduler  # doctest: +SKIP
        'transformers.optimization:get_scheduler'
    """
    found = plan(path, allow_import=allow_import, overrides=overrides, kind=kind)
    name = Path(path).name
    return Request(
        [[found.spec]],
        DisplayOptions(x=found.x, title=f"lrplot from {name} ({KINDS[found.kind]})"),
        command=found.spec.to_command(),
        default_out=Path(name).stem + ".png",
        notes=found.notes,
        inputs={str(path): "the training config"},
    )
