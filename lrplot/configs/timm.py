"""timm's ``args.yaml`` (written by its train.py next to a run) -> ``create_scheduler_v2``.

train.py calls ``create_scheduler_v2(optimizer, **scheduler_kwargs(args),
updates_per_epoch=updates_per_epoch)`` with ``updates_per_epoch = ceil(len(loader) /
grad_accum_steps)`` (the loader always drops the last partial batch: ``lrplot.geometry``'s
``timm`` rule) and trains for the ``num_epochs`` the factory returns. timm's own
``scheduler_kwargs`` maps the args. ``args.yaml`` is written before train.py computes
``lr``, so ``lr: null`` means ``lr_base x global batch / lr_base_size`` (square root of
the ratio for ``ada``/``lamb`` optimizers), as train.py then does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrplot.configs.common import Plan, build_spec, first_lr, fmt, without_defaults
from lrplot.errors import UsageError

#: keys that say a mapping is a timm args.yaml.
KEYS = ("sched", "warmup_epochs", "sched_on_updates", "lr_base", "cooldown_epochs")
#: train.py's argparse defaults of the args lrplot reads (timm 1.0).
_DEFAULTS = {"batch_size": 128, "grad_accum_steps": 1, "lr_base": 0.1, "lr_base_size": 256}
_FIELDS = {"batch_size": "batch_size", "grad_accum": "grad_accum_steps", "epochs": "epochs"}


def _optimizer(opt: Any) -> str:
    name = str(opt or "sgd").lower()
    if "adamw" in name:
        return "adamw"
    return "adam" if "adam" in name else "sgd"


def plan(data: Mapping[str, Any], path: Path, overrides: dict[str, Any]) -> Plan:
    """Return the plan of a timm args.yaml.

    Raises:
        UsageError: neither --dataset-size nor --steps-per-epoch (updates per epoch).
        LrplotError: timm is not installed.
    """
    from lrplot.engine import frameworks as fw

    values = {**_DEFAULTS, **data}
    for key, field in _FIELDS.items():
        if key in overrides:
            values[field] = overrides.pop(key)
    notes = [f"{path.name}: timm train.py args"]
    target = "timm.scheduler:create_scheduler_v2"
    mapped = {k: v for k, v in fw.timm_scheduler_kwargs(values).items() if v is not None}
    kwargs = without_defaults(target, mapped)
    batch, accum = int(values["batch_size"]), int(values.get("grad_accum_steps") or 1)
    world = overrides.pop("world_size", 1)
    run: dict[str, Any] = {"trainer": "timm", "optimizer": _optimizer(values.get("opt"))}
    if "dataset_size" in overrides:
        dataset = overrides.pop("dataset_size")
        run.update(dataset_size=dataset, batch_size=batch, grad_accum=accum)
        run.update(world_size=world, drop_last=True)
    elif "steps_per_epoch" in overrides:
        run.update(batch_size=batch, grad_accum=accum)
    else:
        raise UsageError(
            f"{path.name}: timm's train.py sizes the schedule by the updates per epoch, which "
            "args.yaml does not hold: add --dataset-size N (and --world-size W)",
            key="dataset_size",
        )
    if "lr" in overrides:
        run["lr"] = first_lr(overrides.pop("lr"))
    elif values.get("lr"):
        run["lr"] = float(values["lr"])
    else:
        scale = values.get("lr_base_scale") or (
            "sqrt"
            if any(o in str(values.get("opt", "sgd")).lower() for o in ("ada", "lamb"))
            else "linear"
        )
        global_batch = batch * world * accum
        ratio = global_batch / float(values["lr_base_size"])
        ratio = ratio**0.5 if scale == "sqrt" else ratio
        run["lr"] = float(values["lr_base"]) * ratio
        notes.append(
            f"lr: null in {path.name}: train.py computes lr = lr_base {fmt(values['lr_base'])} "
            f"x ({'sqrt of ' if scale == 'sqrt' else ''}global batch {global_batch} / "
            f"lr_base_size {fmt(values['lr_base_size'])}) = {run['lr']:.6g}"
        )
    on = "every optimizer update" if values.get("sched_on_updates") else "every epoch"
    notes.append(
        f"scheduler: create_scheduler_v2(sched={mapped.get('sched')!r}, ...), stepped {on}"
    )
    spec = build_spec(target, kwargs, run, overrides, lrplot_target=True)
    return Plan(spec, "timm", notes)
