"""DeepSpeed ``ds_config.json`` -> the scheduler its engine builds from the ``scheduler`` section.

DeepSpeed (``engine._scheduler_from_config``) builds ``type`` from
``deepspeed.runtime.lr_schedules`` (else ``torch.optim.lr_scheduler``) with ``params``,
and steps it after every optimizer step. ``"auto"`` values are not DeepSpeed's: HF's
Trainer fills them from the TrainingArguments (``warmup_min_lr`` 0, ``warmup_max_lr`` the
learning rate, ``total_num_steps`` the run's optimizer steps, ``warmup_num_steps``
``max(1, get_warmup_steps)``), so a config that holds one is read through
``lrplot.configs.hf`` and the installed transformers fills it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrplot.configs.common import Plan, build_spec, first_lr, fmt, mapping
from lrplot.errors import UsageError

#: keys that say a mapping is a DeepSpeed config.
KEYS = (
    "train_micro_batch_size_per_gpu",
    "train_batch_size",
    "zero_optimization",
    "gradient_clipping",
)


def has_auto(value: Any) -> bool:
    """Return True when any value in a config is the string ``"auto"``.

    Example:
        >>> has_auto({"scheduler": {"params": {"warmup_num_steps": "auto"}}})
        True
    """
    if isinstance(value, Mapping):
        return any(has_auto(v) for v in value.values())
    if isinstance(value, list):
        return any(has_auto(v) for v in value)
    return value == "auto"


def plan(data: Mapping[str, Any], path: Path, overrides: dict[str, Any]) -> Plan:
    """Return the plan of a ds_config read alone.

    Raises:
        UsageError: no scheduler section, or a value lrplot cannot use.
        LrplotError: DeepSpeed (or transformers, for "auto") is not installed.
    """
    from lrplot.configs import hf
    from lrplot.engine import frameworks as fw

    if not isinstance(data.get("scheduler"), Mapping):
        raise UsageError(
            f"{path.name}: the DeepSpeed config has no scheduler section, so DeepSpeed steps "
            "the scheduler your script passes it (or none)",
            hint="plot that scheduler with lrplot SCHEDULER ...",
        )
    fw.require("deepspeed", "deepspeed", "a DeepSpeed config")
    if has_auto(data):
        fw.require("transformers", "transformers", 'a DeepSpeed config\'s "auto" values')
        return hf.plan({}, path, overrides, deepspeed=data)
    notes = [f"{path.name}: a DeepSpeed config"]
    run: dict[str, Any] = {"trainer": "hf"}
    batch = data.get("train_micro_batch_size_per_gpu")
    accum = data.get("gradient_accumulation_steps") or 1
    total_batch = data.get("train_batch_size")
    if isinstance(batch, int):
        run.update(batch_size=batch, grad_accum=accum)
        if isinstance(total_batch, int) and total_batch % (batch * accum) == 0:
            world = total_batch // (batch * accum)
            notes.append(
                f"world size {world} = train_batch_size {total_batch} / "
                f"(micro batch {batch} x accumulation {accum})"
            )
            if world != 1 and "dataset_size" in overrides:
                run["world_size"] = world
    return plan_resolved(data, data, path, run, overrides, notes)


def plan_resolved(
    resolved: Mapping[str, Any],
    original: Mapping[str, Any],
    path: Path,
    run: dict[str, Any],
    overrides: dict[str, Any],
    notes: list[str],
    *,
    args: Any = None,
) -> Plan:
    """Return the plan of a DeepSpeed scheduler section whose values are all resolved.

    Args:
        resolved: the config after "auto" filling (or the config itself).
        original: the config as written, to say which values were "auto".
        args: the TrainingArguments, when HF's Trainer runs DeepSpeed.
    """
    from lrplot.engine import frameworks as fw

    section = mapping(resolved.get("scheduler"), "scheduler")
    type_name = section.get("type")
    if not isinstance(type_name, str):
        raise UsageError(f"{path.name}: scheduler.type should be a scheduler name")
    target = fw.deepspeed_scheduler(type_name)
    params = dict(mapping(section.get("params"), "scheduler.params"))
    params.pop("last_batch_iteration", None)
    left = [k for k, v in params.items() if v == "auto"]
    if left:
        raise UsageError(
            f'{path.name}: scheduler.params.{left[0]} is "auto", which HF\'s Trainer does not '
            "fill (it fills warmup_min_lr, warmup_max_lr, warmup_num_steps, total_num_steps)",
            hint="give it a number",
            key=left[0],
        )
    written = mapping(mapping(original.get("scheduler"), "scheduler").get("params"), "params")
    filled = [f"{k}={fmt(params[k])}" for k, v in written.items() if v == "auto" and k in params]
    if filled:
        notes.append('"auto" filled by transformers: ' + ", ".join(filled))
    optimizer = mapping(resolved.get("optimizer"), "optimizer")
    opt_params = mapping(optimizer.get("params"), "optimizer.params")
    if "lr" in overrides:
        run["lr"] = first_lr(overrides.pop("lr"))
    elif isinstance(opt_params.get("lr"), (int, float)):
        run["lr"] = opt_params["lr"]
    elif args is not None:
        run["lr"] = args.learning_rate
    else:
        notes.append("no optimizer lr in the config: the optimizer's lr is --lr (0.1)")
    kind = str(optimizer.get("type", "")).lower()
    if kind:
        run["optimizer"] = "sgd" if kind.startswith("sgd") else "adamw" if "w" in kind else "adam"
    if ":" not in target:  # a torch scheduler: DeepSpeed steps it after every optimizer step
        run["step_per"] = "iter"
    spec = build_spec(target, params, run, overrides, lrplot_target=True)
    notes.append(f"scheduler: DeepSpeed's {type_name}, stepped after every optimizer step")
    return Plan(spec, "deepspeed", notes, x="step")
