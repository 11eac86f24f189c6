"""Scheduler names to registry entries: the built-ins, and ``module.path:Name`` plug-ins.

``scheduler_info`` is the one place where a scheduler name becomes something lrplot can
build, so it is also where consent to import code is checked: typing a plug-in on the
command line or in Python is consent; a config file gets it only with ``--allow-import``
(``imports_allowed(False)`` around its loading). Every route a name can take (an entry,
a sweep value, a compare item, a nested SPEC) ends here.

Example:
    >>> scheduler_info("exp").cls
    'ExponentialLR'
    >>> with imports_allowed(False):
    ...     scheduler_info("os.path:join")
    Traceback (most recent call last):
    ...
    lrplot.errors.UsageError: 'os.path:join' is a plug-in scheduler; a config may import ...
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import importlib
import inspect
import os
import sys
import typing
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from lrplot import docstrings, registry
from lrplot.errors import UsageError, printable
from lrplot.registry import REQUIRED, KwargInfo, SchedulerInfo

_PLUGINS: dict[str, SchedulerInfo] = {}
#: the PyPI package of each framework module lrplot supports (``ignite`` is pytorch-ignite).
PACKAGES = {
    "transformers": "transformers",
    "timm": "timm",
    "ignite": "pytorch-ignite",
    "mmengine": "mmengine",
    "deepspeed": "deepspeed",
    "lightning": "lightning",
    "pytorch_lightning": "pytorch-lightning",
    "schedulefree": "schedulefree",
    "pytorch_warmup": "pytorch-warmup",
}
_CONSENT: contextvars.ContextVar[bool] = contextvars.ContextVar("lrplot_imports", default=True)
#: plug-ins still allowed while imports are forbidden (the one named on a command line).
_EXCEPT: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "lrplot_import_exceptions", default=frozenset()
)


@contextlib.contextmanager
def imports_allowed(allowed: bool, *, except_for: Iterable[str] = ()) -> Iterator[None]:
    """Allow (or forbid) importing plug-in modules while the block runs.

    Args:
        allowed: whether any ``module:Name`` may be imported.
        except_for: plug-ins that stay allowed when ``allowed`` is False.
    """
    token = _CONSENT.set(allowed)
    names = _EXCEPT.set(frozenset(except_for))
    try:
        yield
    finally:
        _EXCEPT.reset(names)
        _CONSENT.reset(token)


@contextlib.contextmanager
def allowing(targets: Iterable[str]) -> Iterator[None]:
    """Allow importing these plug-ins (ones lrplot chose itself) and keep the consent for others.

    Example:
        >>> with imports_allowed(False), allowing(["os.path:join"]):
        ...     load_target("os.path:join").__name__
        'join'
    """
    with imports_allowed(_CONSENT.get(), except_for=_EXCEPT.get() | set(targets)):
        yield


def imports_are_allowed() -> bool:
    """Return True when code may be imported here (the consent ``imports_allowed`` set)."""
    return _CONSENT.get()


def _consented(target: str) -> bool:
    return _CONSENT.get() or target in _EXCEPT.get()


def load_target(target: str) -> Any:
    """Import ``module.path:Name`` and return the object.

    Raises:
        UsageError: imports are not allowed here, or the module cannot be imported, or it
            has no such name.
    """
    if not _consented(target):
        raise UsageError(
            f"'{target}' is a plug-in scheduler; a config may import code only when you pass "
            "--allow-import",
            key="scheduler",
            value=target,
        )
    module_name, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:  # as `python -m` would: a module in the current directory
        sys.path.append(os.getcwd())
    try:  # lrplot's stdout is its own (``-o -`` writes CSV there): import chatter to stderr
        with contextlib.redirect_stdout(sys.stderr):
            module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # any import-time failure is the module failing
        missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
        package = PACKAGES.get((missing or "").partition(".")[0])
        raise UsageError(
            f"cannot import '{module_name}' for '{target}': {exc}",
            hint=f"pip install {package} (README: Frameworks)" if package else None,
            key="scheduler",
            value=target,
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        public = [n for n in dir(module) if not n.startswith("_")]
        raise UsageError(
            f"module '{module_name}' has no '{attr}'",
            hint=registry.suggest(attr, public),
            key="scheduler",
            value=target,
        ) from None


def scheduler_info(name: str) -> SchedulerInfo:
    """Return the registry entry for a built-in name or a ``module:Name`` plug-in.

    A plug-in's kwargs come from its signature, with ``*args, **kwargs`` resolved through
    the class's MRO (mmengine and ignite classes pass their kwargs to a base class); the
    optimizer is bound to the parameter the signature names for it; each kwarg is
    described from the docstrings.

    Raises:
        UsageError: the object cannot be imported, is not callable, or is something
            lrplot cannot show (an optimizer, a warmup dampener).

    Example:
        >>> scheduler_info("CosineAnnealingLR").name
        'cosine'
    """
    if not registry.is_plugin(name):
        return registry.resolve(name)
    if name in _PLUGINS and _consented(name):
        return _PLUGINS[name]
    obj = load_target(name)
    why = registry.refusal(obj)
    if why is not None:
        raise UsageError(f"lrplot cannot show '{name}': {why}", key="scheduler", value=name)
    if not callable(obj):
        raise UsageError(f"'{name}' is not a scheduler class or factory", key="scheduler")
    try:
        params, extra = signature_params(obj)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"cannot read the signature of '{name}': {exc}") from None
    traits = registry.traits_for(obj)
    hints = _type_hints(obj)
    optimizer = _optimizer_param(params, hints)
    skip = registry.HIDDEN_KWARGS | set(traits.hidden) | set(traits.supplied)
    defaults = dict(traits.defaults)
    kwargs = tuple(
        _fractional(_kwarg(p, hints.get(p.name), defaults), traits.fractional)
        for p in params
        if p is not optimizer and p.name not in skip
    ) + tuple(  # another constructor of the class, chosen by a true/false kwarg
        registry.KwargInfo(key, "bool", False, "bool")
        for key, method, _ in traits.builders
        if callable(getattr(obj, method, None))
    )
    module, _, cls = name.partition(":")
    _PLUGINS[name] = SchedulerInfo(
        name,
        cls,
        printable(docstrings.summary(obj.__doc__), newlines=False) or f"plug-in {name}",
        kwargs,
        module=module,
        traits=traits,
        obj=obj,
        optimizer_arg=optimizer.name if optimizer is not None else None,
        optimizer_positional=optimizer is not None
        and params.index(optimizer) == 0
        and optimizer.kind != optimizer.KEYWORD_ONLY,
        extra_kwargs=extra,
        docs=tuple(docstrings.object_docs(obj).items())
        + tuple((key, meaning) for key, _, meaning in traits.builders),
    )
    return _PLUGINS[name]


_NAMED = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VAR = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def signature_params(obj: Any) -> tuple[list[inspect.Parameter], bool]:
    """Return the parameters a class or factory really takes, and whether any ``**kwargs``
    remain unresolved.

    A class whose ``__init__`` takes both ``*args`` and ``**kwargs`` passes them on to a
    base class (mmengine's and ignite's mixins do): the parameters of the next
    ``__init__`` along the MRO are added, until one without them. ``**kwargs`` alone is
    forwarded somewhere else (ignite's plateau scheduler hands them to torch's): any
    ``--key value`` is accepted then.

    Example:
        >>> class Base:
        ...     def __init__(self, optimizer, size: int, floor: float = 0.0): ...
        >>> class Child(Base):
        ...     def __init__(self, *args, mode: str = "a", **kwargs): ...
        >>> [p.name for p in signature_params(Child)[0]], signature_params(Child)[1]
        (['optimizer', 'size', 'floor', 'mode'], False)
    """
    if not inspect.isclass(obj):
        params = list(inspect.signature(obj).parameters.values())
        extra = any(p.kind == p.VAR_KEYWORD for p in params)
        return [p for p in params if p.kind not in _VAR], extra
    found: list[inspect.Parameter] = []
    pending = True
    for klass in obj.__mro__:
        init = vars(klass).get("__init__")
        if init is None or not pending:
            continue
        if klass is object:
            break
        params = list(inspect.signature(init).parameters.values())[1:]  # self
        names = {p.name for p in found}
        found += [p for p in params if p.kind not in _VAR and p.name not in names]
        kinds = {p.kind for p in params}
        pending = set(_VAR) <= kinds
        if not pending and inspect.Parameter.VAR_KEYWORD in kinds:
            return _ordered(found), True
    return _ordered(found), pending


def _ordered(found: list[inspect.Parameter]) -> list[inspect.Parameter]:
    keyword_only = [p for p in found if p.kind == p.KEYWORD_ONLY]
    return [p for p in found if p.kind in _NAMED] + keyword_only


def _type_hints(obj: Any) -> dict[str, Any]:
    """Return the evaluated annotations of a factory or of a class's ``__init__`` chain."""
    targets = (
        [vars(k)["__init__"] for k in obj.__mro__ if "__init__" in vars(k)]
        if (inspect.isclass(obj))
        else [obj]
    )
    hints: dict[str, Any] = {}
    for target in reversed(targets):
        try:
            hints.update(typing.get_type_hints(target))
        except Exception:  # unresolvable forward references: the annotation text remains
            continue
    return hints


def _optimizer_param(
    params: list[inspect.Parameter], hints: dict[str, Any]
) -> inspect.Parameter | None:
    """Return the parameter that takes the optimizer, as the signature says, or None."""
    for p in params:
        if p.name in ("optimizer", "optim", "opt"):
            return p
    for p in params:
        if "Optimizer" in _annotation_text(hints.get(p.name, p.annotation)):
            return p
    first = params[0] if params else None
    if (
        first is not None
        and first.kind in _NAMED
        and first.default is first.empty
        and "Scheduler" not in _annotation_text(hints.get(first.name, first.annotation))
    ):
        return first  # f(opt, ...): a factory takes the optimizer first
    return None


def _kwarg(p: inspect.Parameter, hint: Any, defaults: dict[str, Any]) -> KwargInfo:
    """Type one plug-in kwarg from its annotation (choices from an Enum) and default."""
    default = defaults.get(p.name, REQUIRED if p.default is p.empty else p.default)
    text = "" if p.annotation is p.empty else _annotation_text(p.annotation)
    kw = registry.kwarg_from_annotation(p.name, text, default)
    enums = [
        t
        for t in (typing.get_args(hint) or (hint,))
        if isinstance(t, type) and issubclass(t, enum.Enum)
    ]
    if enums:
        choices = tuple(str(m.value) for m in enums[0])
        return replace(kw, kind="choice", choices=choices)
    return kw


def _fractional(kw: KwargInfo, names: tuple[str, ...]) -> KwargInfo:
    """Let an int kwarg of ``names`` take a fraction too (typed from its text)."""
    if kw.name in names and kw.kind == "int":
        return replace(kw, annotation=f"{kw.annotation} | float", kind="auto")
    return kw


def _annotation_text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty or annotation is None:
        return ""
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
