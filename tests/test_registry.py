"""The static registry against the installed torch signatures."""

from __future__ import annotations

import inspect

import pytest

from lrplot import registry
from lrplot.errors import UsageError

#: kwargs lrplot does not expose, and why.
OMITTED = {("CyclicLR", "scale_fn"): "a Python callable of the cycle; use mode=..."}


@pytest.mark.parametrize("info", registry.SCHEDULERS, ids=lambda i: i.name)
def test_kwargs_match_torch_signature(info):
    from torch.optim import lr_scheduler

    params = inspect.signature(getattr(lr_scheduler, info.cls)).parameters
    want = {
        name: p
        for name, p in params.items()
        if name not in registry.HIDDEN_KWARGS and (info.cls, name) not in OMITTED
    }
    assert [k.name for k in info.kwargs] == list(want)
    for kw in info.kwargs:
        p = want[kw.name]
        assert kw.annotation == str(p.annotation)
        if p.default is p.empty:
            assert kw.required
        else:
            assert kw.default == p.default
        assert registry.kwarg_from_annotation(kw.name, str(p.annotation), kw.default) == kw


def test_fifteen_schedulers_with_design_aliases():
    assert len(registry.SCHEDULERS) == 15
    for alias, cls in {
        "step": "StepLR",
        "multistep": "MultiStepLR",
        "exp": "ExponentialLR",
        "exponential": "ExponentialLR",
        "cosine": "CosineAnnealingLR",
        "cosine-restarts": "CosineAnnealingWarmRestarts",
        "sgdr": "CosineAnnealingWarmRestarts",
        "cyclic": "CyclicLR",
        "onecycle": "OneCycleLR",
        "plateau": "ReduceLROnPlateau",
        "lambda": "LambdaLR",
        "multiplicative": "MultiplicativeLR",
        "constant": "ConstantLR",
        "linear": "LinearLR",
        "poly": "PolynomialLR",
        "polynomial": "PolynomialLR",
        "sequential": "SequentialLR",
        "chained": "ChainedScheduler",
    }.items():
        assert registry.resolve(alias).cls == cls
        assert registry.resolve(cls.upper()).cls == cls


@pytest.mark.parametrize(
    ("annotation", "default", "kind"),
    [
        ("int", registry.REQUIRED, "int"),
        ("float", 0.1, "float"),
        ("bool", True, "bool"),
        ("float | list[float]", registry.REQUIRED, "floats"),
        ("list[float] | float", 0, "floats"),
        ("Iterable[int]", registry.REQUIRED, "ints"),
        ("int | None", None, "int"),
        ("Literal['cos', 'linear']", "cos", "choice"),
        ("Callable[[int], float]", registry.REQUIRED, "expr"),
        ("list[LRScheduler]", registry.REQUIRED, "specs"),
        ("", 3, "int"),
        ("", 0.5, "float"),
        ("", None, "auto"),
    ],
)
def test_kind_from_annotation(annotation, default, kind):
    assert registry.kwarg_from_annotation("x", annotation, default).kind == kind


def test_unknown_name_suggests():
    with pytest.raises(UsageError) as err:
        registry.resolve("cosin")
    assert err.value.hint == "did you mean cosine?"
    assert registry.suggest("zzzz", registry.names()) is None
