"""Resume check for the frameworks' schedulers: timm, transformers, DeepSpeed, ignite, mmengine.

timm's resumed rows are compared with its train script's own resume (a real training loop,
a checkpoint file through ``torch.save``/``torch.load``, ``step_update(num_updates)``);
the others with what was measured for them: a ``state_dict`` round trip matches, and the
pitfalls are named.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lrplot import pipeline
from lrplot.engine.resume import resume_runs
from lrplot.options import DisplayOptions, ResumeOptions, RunOptions
from lrplot.resume import check
from lrplot.spec import make_spec
from tests.frameworks.conftest import quiet, tiny, train_step

TIMM = "timm.scheduler:CosineLRScheduler"
TIMM_KW = {"t_initial": 20, "warmup_t": 4, "warmup_lr_init": 0.01, "lr_min": 0.001}


def _timm_script(at: int, resume: str, tmp_path: Any, **kw: Any) -> list[float]:
    """train.py's loop: step_update after each update; resume from a checkpoint file."""
    import torch
    from timm.scheduler import CosineLRScheduler

    model, optimizer, rows = tiny()
    with quiet():
        scheduler = CosineLRScheduler(optimizer, **{**TIMM_KW, **kw}, t_in_epochs=False)
    for i in range(at):
        train_step(model, optimizer)
        scheduler.step_update(num_updates=i + 1)
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, path)
    saved = torch.load(path, weights_only=True)
    model, optimizer, more = tiny()
    if resume != "state-dict":  # train.py: resume_checkpoint() first, the scheduler after
        optimizer.load_state_dict(saved["optimizer"])
    with quiet():
        scheduler = CosineLRScheduler(optimizer, **{**TIMM_KW, **kw}, t_in_epochs=False)
    if resume == "state-dict":  # the documented order: build, then load both states
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
    elif resume == "last-epoch":  # train.py: lr_scheduler.step_update(start_epoch * updates)
        scheduler.step_update(at)
    for i in range(at, 20):
        train_step(model, optimizer)
        scheduler.step_update(num_updates=i + 1)
    return [r[0] for r in rows + more]


@pytest.mark.parametrize("style", ["state-dict", "last-epoch", "no-state"])
def test_timm_resumes_as_its_train_script(style, tmp_path):
    pytest.importorskip("timm")
    spec = make_spec(TIMM, {**TIMM_KW, "t_in_epochs": False}, epochs=20)
    for at in (4, 10):
        got = resume_runs(spec, [at], [style]).runs[0]
        np.testing.assert_allclose(got.lr[:, 0], _timm_script(at, style, tmp_path), rtol=1e-12)


def _findings(name: str, kwargs: dict[str, str], run: RunOptions, **options: Any) -> dict:
    request = pipeline.schedule_request(name, kwargs, run, DisplayOptions())
    done = check(request, ResumeOptions(**options), write=False)
    return {f.label: f for f in done.findings} | {"failed": done.failed}


def test_timm_passes_and_a_rebuilt_scheduler_costs_one_step():
    pytest.importorskip("timm")
    kw = {k: str(v) for k, v in TIMM_KW.items()} | {"t_in_epochs": "false"}
    found = _findings(TIMM, kw, RunOptions(epochs=20), resume_at=[4, 10])
    assert not found["failed"]
    assert found["state-dict@4"].status == found["state-dict@10"].status == "match"
    assert found["last-epoch@10"].notes == ["moved as its training script does: step_update(10)"]
    assert found["no-state@10"].message.startswith(
        "only step 10 differs: it runs at 0.01 (the schedule's first lr)"
    )


def test_timm_per_epoch_resumes_mid_epoch():
    pytest.importorskip("timm")
    kw = {"t_initial": "10", "warmup_t": "2", "warmup_lr_init": "0.01"}
    found = _findings(TIMM, kw, RunOptions(epochs=10, steps_per_epoch=3), resume_at=[6, 7])
    assert found["state-dict@7"].status == "match" and found["last-epoch@7"].status == "match"
    assert "differs for 2 steps" in found["no-state@7"].message  # to the end of the epoch


def test_timm_changed_length_keeps_t_initial():
    pytest.importorskip("timm")
    kw = {k: str(v) for k, v in TIMM_KW.items()} | {"t_in_epochs": "false"}
    found = _findings(TIMM, kw, RunOptions(epochs=20), resume_at=[10], resume_epochs=30)
    f = found["changed-length@10"]
    assert found["failed"] and "keeps the checkpoint's horizon" in f.message
    assert f.cause == "load_state_dict() restored t_initial=20 over the new run's t_initial=30"


def test_hf_schedules_survive_and_switch_horizon_with_a_jump():
    pytest.importorskip("transformers")
    name = "transformers.optimization:get_cosine_schedule_with_warmup"
    kw = {"num_warmup_steps": "4", "num_training_steps": "20"}
    found = _findings(name, kw, RunOptions(epochs=20), resume_at=[10])
    assert not found["failed"] and found["state-dict@10"].status == "match"
    assert found["no-state@10"].message.startswith(
        "the schedule restarts at step 10 (the warmup runs again): it runs at 0 instead of"
    )
    changed = _findings(name, kw, RunOptions(epochs=20), resume_at=[10], resume_epochs=30)
    f = changed["changed-length@10"]
    assert "switches to the new schedule (num_training_steps=30) at step 11" in f.message
    assert "functools.partial whose arguments state_dict() does not keep" in (f.cause or "")


def test_deepspeed_resumes_through_state_dict_and_last_batch_iteration():
    pytest.importorskip("deepspeed")
    name = "deepspeed.runtime.lr_schedules:WarmupDecayLR"
    kw = {
        "total_num_steps": "20",
        "warmup_num_steps": "4",
        "warmup_max_lr": "0.1",
        "warmup_min_lr": "0.001",  # not 0: DeepSpeed's first two steps would not train
        "warmup_type": "linear",
    }
    found = _findings(name, kw, RunOptions(epochs=20), resume_at=[4, 10])
    assert not found["failed"]
    assert found["last-epoch@10"].status == "match"
    assert found["last-epoch@10"].notes == ["built with last_batch_iteration=9"]
    changed = _findings(name, kw, RunOptions(epochs=20), resume_at=[10], resume_epochs=30)
    assert "switches to the new schedule (total_num_steps=30) at step 11" in (
        changed["changed-length@10"].message
    )


def test_ignite_has_no_counter_and_says_so():
    pytest.importorskip("ignite")
    name = "ignite.handlers.param_scheduler:CosineAnnealingScheduler"
    kw = {"start_value": "0.1", "end_value": "0.001", "cycle_size": "20"}
    found = _findings(name, kw, RunOptions(epochs=20), resume_at=[10])
    assert not found["failed"] and found["state-dict@10"].status == "match"
    assert found["last-epoch@10"].status == "skipped"
    assert "takes no resume counter" in found["last-epoch@10"].message


def test_mmengine_resumes_and_last_step_applies_the_change_twice():
    pytest.importorskip("mmengine")
    name = "mmengine.optim.scheduler:CosineAnnealingLR"
    found = _findings(
        name, {"T_max": "20", "by_epoch": "false"}, RunOptions(epochs=20), resume_at=[10]
    )
    assert not found["failed"] and found["state-dict@10"].status == "match"
    assert found["last-epoch@10"].message.startswith("the change at step 10 is applied twice")
