"""Tests for ``lrplot.geometry`` and the geometry run options: each trainer's count.

The rules are checked against the frameworks' own dataloaders and trainers in
tests/frameworks/test_geometry_rules.py; here, their numbers on cases worked by hand, and
how the run options use them.
"""

from __future__ import annotations

import pytest

from lrplot.errors import UsageError
from lrplot.geometry import TRAINERS, Geometry, count, plain_loop
from lrplot.options import option
from lrplot.spec import make_spec, parse_spec


@pytest.mark.parametrize(
    ("trainer", "geometry", "batches", "steps", "step_batches"),
    [
        # HF shards batches: ceil(27/(2*2)) = 7 per process, the short window steps
        ("hf", Geometry(27, 2, grad_accum=2, world_size=2), 7, 4, (1, 3, 5, 6)),
        # Lightning shards samples first: ceil(7/2) = 4 each, then 4//2 with drop_last
        ("lightning", Geometry(7, 2, world_size=2, drop_last=True), 2, 2, (0, 1)),
        ("hf", Geometry(7, 2, world_size=2, drop_last=True), 1, 1, (0,)),
        ("lightning", Geometry(13, 2, grad_accum=2), 7, 4, (1, 3, 5, 6)),
        # a plain loop steps every A batches: the 7th batch's gradients are never applied
        ("torch", Geometry(13, 2, grad_accum=2), 7, 3, (1, 3, 5)),
        ("torch", Geometry(1000, 32), 32, 32, tuple(range(32))),
        # timm's train loader always drops the last partial batch
        ("timm", Geometry(30, 4, grad_accum=2), 7, 4, (1, 3, 5, 6)),
        ("timm", Geometry(30, 4, grad_accum=2, world_size=2), 3, 2, (1, 2)),
        ("mmengine", Geometry(16, 2, grad_accum=2), 8, 4, (1, 3, 5, 7)),
    ],
)
def test_each_trainer_counts_its_own_way(trainer, geometry, batches, steps, step_batches):
    counted = count(trainer, geometry)
    assert (counted.batches, counted.steps, counted.step_batches) == (
        batches,
        steps,
        step_batches,
    )


def test_the_rule_is_named_with_its_numbers():
    hf = count("hf", Geometry(1000, 8, grad_accum=4, world_size=2))
    assert hf.text == (
        "per-rank batches ceil(1000/(8×2)) = 63, then ceil(63/4) = 16 "
        "(HF Trainer, transformers 5.23)"
    )
    pl = count("lightning", Geometry(50000, 64, grad_accum=2, world_size=2))
    assert pl.text == (
        "per-rank samples ceil(50000/2) = 25000, batches ceil(25000/64) = 391, then "
        "ceil(391/2) = 196 (Lightning 2.6)"
    )
    assert "always drops the last partial batch" in count("timm", Geometry(30, 4)).note
    assert "do not step" in count("torch", Geometry(13, 2, grad_accum=2)).note


def test_geometries_that_cannot_train_are_refused():
    with pytest.raises(UsageError, match="no optimizer step per epoch"):
        count("hf", Geometry(7, 4, world_size=2, drop_last=True))
    with pytest.raises(UsageError, match="--batch-size must be at least 1"):
        count("hf", Geometry(7, 0))
    with pytest.raises(UsageError, match="--trainer must be one of"):
        count("keras", Geometry(7, 1))
    with pytest.raises(UsageError, match="accumulates gradients over the run's iterations"):
        count("mmengine", Geometry(14, 2, grad_accum=2))


def test_trainers_are_the_options_choices():
    assert option("trainer").choices == TRAINERS
    assert plain_loop(3, 2) == (6, (1, 3, 5))


def test_dataset_size_gives_the_steps_per_epoch_by_the_family_rule():
    spec = make_spec("cosine", {"T_max": 10}, dataset_size=1000, batch_size=8, grad_accum=4)
    assert spec.steps_per_epoch == 31  # torch: 125 batches // 4
    hf = make_spec(
        "cosine", {"T_max": 10}, dataset_size=1000, batch_size=8, grad_accum=4, trainer="hf"
    )
    assert hf.steps_per_epoch == 32  # ceil(125/4)
    assert hf.to_command() == (
        "lrplot cosine --T_max 10 --dataset-size 1000 --batch-size 8 --grad-accum 4 --trainer hf"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dataset_size": 100, "batch_size": 10, "steps_per_epoch": 9}, "disagrees"),
        ({"dataset_size": 100}, "--dataset-size needs --batch-size"),
        ({"world_size": 2, "steps_per_epoch": 10}, "--world-size"),
        ({"drop_last": True}, "--drop-last"),
        ({"frequency": 2}, "--trainer lightning"),
        ({"warmup_step_per": "iter"}, "no --warmup is given"),
        ({"fractional_epoch": True, "step_per": "iter"}, "not per iteration"),
        ({"fractional_epoch": True, "warmup": 3}, "--warmup"),
    ],
)
def test_inconsistent_run_options_are_refused(options, message):
    with pytest.raises(UsageError, match=message):
        make_spec("cosine", {"T_max": 10}, **options)


def test_agreeing_steps_per_epoch_is_accepted():
    spec = make_spec("cosine", {"T_max": 10}, dataset_size=100, batch_size=10, steps_per_epoch=10)
    assert spec.steps_per_epoch == 10


def test_a_spec_string_carries_the_geometry():
    spec = parse_spec("cosine:T_max=10,dataset_size=100,batch_size=10,drop_last=yes,trainer=hf")
    assert (spec.steps_per_epoch, spec.drop_last, spec.trainer) == (10, True, "hf")
