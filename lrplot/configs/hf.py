"""Hugging Face ``TrainingArguments`` (JSON or YAML) -> the scheduler the Trainer builds.

The Trainer (transformers 5.23, ``Trainer.create_scheduler``) calls::

    get_scheduler(args.lr_scheduler_type, optimizer,
                  num_warmup_steps=args.get_warmup_steps(max_steps),
                  num_training_steps=max_steps,
                  scheduler_specific_kwargs=args.lr_scheduler_kwargs)

with ``max_steps`` = ``args.max_steps`` if > 0, else ``ceil(num_train_epochs x optimizer
steps per epoch)``, the steps per epoch counted by ``lrplot.geometry``'s ``hf`` rule. The
installed transformers builds the ``TrainingArguments`` (its defaults, its checks) and
rounds the warmup (``get_warmup_steps``); with a ``deepspeed`` config that has a
``scheduler`` section, DeepSpeed's scheduler replaces it and transformers fills its
``"auto"`` values (``lrplot.configs.deepspeed``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrplot.configs.common import (
    Plan,
    build_spec,
    first_lr,
    fmt,
    length_source,
    read_data,
)
from lrplot.errors import UsageError
from lrplot.geometry import Geometry, count

#: keys that say a mapping is a TrainingArguments config.
KEYS = (
    "lr_scheduler_type",
    "per_device_train_batch_size",
    "num_train_epochs",
    "warmup_ratio",
    "learning_rate",
    "gradient_accumulation_steps",
    "output_dir",
)
#: run overrides that stand for a TrainingArguments field.
_FIELDS = {
    "batch_size": "per_device_train_batch_size",
    "grad_accum": "gradient_accumulation_steps",
    "drop_last": "dataloader_drop_last",
    "train_steps": "max_steps",
    "epochs": "num_train_epochs",
}


def _optimizer(optim: Any) -> str:
    """Return lrplot's dummy optimizer for an ``optim`` name (adamw_torch -> adamw)."""
    name = str(getattr(optim, "value", optim) or "adamw_torch").lower()
    if name.startswith("sgd"):
        return "sgd"
    return "adam" if name.startswith("adam") and not name.startswith("adamw") else "adamw"


def _warmup_ratio(values: dict[str, Any], fields: set[str], notes: list[str]) -> None:
    """Read a transformers 4.x ``warmup_ratio`` where the installed version has none."""
    if "warmup_ratio" not in values or "warmup_ratio" in fields:
        return
    ratio = values.pop("warmup_ratio")
    steps = values.get("warmup_steps") or 0
    if steps > 0:
        notes.append(
            f"warmup_steps={fmt(steps)} wins over warmup_ratio={fmt(ratio)}, as in transformers "
            "4.x (warmup_ratio was removed in 5.2)"
        )
    elif ratio:
        values["warmup_steps"] = ratio
        notes.append(
            f"warmup_ratio={fmt(ratio)} read as warmup_steps={fmt(ratio)}: the installed "
            "transformers takes a warmup_steps below 1 as a ratio (warmup_ratio was removed in 5.2)"
        )


def plan(
    data: Mapping[str, Any],
    path: Path,
    overrides: dict[str, Any],
    *,
    deepspeed: Mapping[str, Any] | None = None,
) -> Plan:
    """Return the plan of a TrainingArguments config (``deepspeed``: a ds_config read alone).

    Raises:
        UsageError: no dataset size and no max_steps; transformers refused a value.
        LrplotError: transformers (or DeepSpeed, for its config) is not installed.
    """
    from lrplot.configs import deepspeed as ds
    from lrplot.engine import frameworks as fw

    values = dict(data)
    fields = fw.hf_fields()
    notes = [f"{path.name}: Hugging Face TrainingArguments (transformers {fw.hf_version()})"]
    if deepspeed is not None:
        notes[0] = (
            f'{path.name}: a DeepSpeed config, its "auto" values filled as HF\'s Trainer fills '
            f"them (transformers {fw.hf_version()}), from TrainingArguments' defaults and the "
            "run options"
        )
    _warmup_ratio(values, fields, notes)
    for key, field in _FIELDS.items():
        if key in overrides:
            values[field] = overrides.pop(key)
    if "lr" in overrides:
        values["learning_rate"] = first_lr(overrides["lr"])
    args = fw.hf_arguments(values)
    world = overrides.pop("world_size", 1)
    dataset = overrides.pop("dataset_size", None)
    batch, accum = args.per_device_train_batch_size, args.gradient_accumulation_steps
    drop = bool(args.dataloader_drop_last)
    counted = None
    run: dict[str, Any] = {"trainer": "hf", "optimizer": _optimizer(args.optim)}
    if dataset is not None:
        counted = count("hf", Geometry(dataset, batch, accum, world, drop))
        spe = counted.steps
        run.update(dataset_size=dataset, batch_size=batch, grad_accum=accum)
        run.update(world_size=world, drop_last=drop)
        if args.max_steps > 0:
            total, how = args.max_steps, f"max_steps={args.max_steps}"
        else:
            epochs_f = args.num_train_epochs
            total = math.ceil(epochs_f * spe)
            how = f"ceil(num_train_epochs {fmt(epochs_f)} × {spe} steps per epoch)"
        run["epochs"] = math.ceil(total / spe)
        if total < run["epochs"] * spe:
            run["train_steps"] = total
    elif args.max_steps > 0:
        total, how = args.max_steps, f"max_steps={args.max_steps}"
        run.update(epochs=1, steps_per_epoch=total, batch_size=batch, grad_accum=accum)
        notes.append("no --dataset-size: the run is max_steps optimizer steps, drawn as one epoch")
    else:
        raise UsageError(
            f"{path.name}: HF's Trainer counts the optimizer steps from the training set: "
            "add --dataset-size N (its number of samples), or set max_steps",
            key="dataset_size",
        )
    run["length_from"] = length_source(path, how)
    if dataset is not None and world == 1 and "world_size" not in data:
        notes.append(
            "world size 1: TrainingArguments do not say how many processes run (--world-size N)"
        )
    notes.append(f"optimizer steps: {total} ({how})")
    warmup = fw.hf_warmup_steps(args, total)
    shown = fmt(args.warmup_steps)
    written = data.get("warmup_steps")
    if isinstance(written, float) and written == 1.0:
        notes.append(
            "warmup_steps=1.0 is one warmup step, not the whole run (a ratio only below 1)"
        )
    notes.append(
        f"warmup: {warmup} of {total} steps (the installed TrainingArguments.get_warmup_steps"
        f"({total}) with warmup_steps={shown})"
    )
    source = deepspeed if deepspeed is not None else _ds_config(values.get("deepspeed"), path)
    if source is not None and isinstance(source.get("scheduler"), Mapping):
        resolved = fw.hf_deepspeed(source, args, total=total, world_size=world, flags=values)
        return ds.plan_resolved(resolved, source, path, run, overrides, notes, args=args)
    if source is not None:
        notes.append("the DeepSpeed config has no scheduler section: the Trainer builds its own")
    name = getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)
    kwargs: dict[str, Any] = {
        "name": name,
        "num_warmup_steps": warmup,
        "num_training_steps": total,
    }
    if args.lr_scheduler_kwargs:
        kwargs["scheduler_specific_kwargs"] = dict(args.lr_scheduler_kwargs)
    run["lr"] = args.learning_rate
    spec = build_spec(
        "transformers.optimization:get_scheduler", kwargs, run, overrides, lrplot_target=True
    )
    return Plan(spec, "hf", notes, x="step")


def _ds_config(value: Any, path: Path) -> Mapping[str, Any] | None:
    """Return the ``deepspeed`` value of TrainingArguments: a dict, or a file beside ``path``."""
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str):
        raise UsageError(f"{path.name}: deepspeed should be a file name or a mapping")
    file = (path.parent / value).resolve() if not Path(value).is_absolute() else Path(value)
    data = read_data(file)
    if not isinstance(data, Mapping):
        raise UsageError(f"{file}: a DeepSpeed config is a JSON object")
    return data
