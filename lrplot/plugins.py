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
import importlib
import inspect
import os
import sys
from collections.abc import Iterator
from typing import Any

from lrplot import registry
from lrplot.errors import UsageError, printable
from lrplot.registry import REQUIRED, SchedulerInfo

_PLUGINS: dict[str, SchedulerInfo] = {}
_CONSENT: contextvars.ContextVar[bool] = contextvars.ContextVar("lrplot_imports", default=True)


@contextlib.contextmanager
def imports_allowed(allowed: bool) -> Iterator[None]:
    """Allow (or forbid) importing plug-in modules while the block runs."""
    token = _CONSENT.set(allowed)
    try:
        yield
    finally:
        _CONSENT.reset(token)


def load_target(target: str) -> Any:
    """Import ``module.path:Name`` and return the object.

    Raises:
        UsageError: imports are not allowed here, or the module cannot be imported, or it
            has no such name.
    """
    if not _CONSENT.get():
        raise UsageError(
            f"'{target}' is a plug-in scheduler; a config may import code only when you pass "
            "--allow-import",
            key="scheduler",
            value=target,
        )
    module_name, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:  # as `python -m` would: a module in the current directory
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # any import-time failure is the module failing
        raise UsageError(
            f"cannot import '{module_name}' for '{target}': {exc}", key="scheduler", value=target
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

    Example:
        >>> scheduler_info("CosineAnnealingLR").name
        'cosine'
    """
    if not registry.is_plugin(name):
        return registry.resolve(name)
    if name in _PLUGINS and _CONSENT.get():
        return _PLUGINS[name]
    obj = load_target(name)
    if not callable(obj):
        raise UsageError(f"'{name}' is not a scheduler class or factory", key="scheduler")
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError) as exc:
        raise UsageError(f"cannot read the signature of '{name}': {exc}") from None
    if not inspect.isclass(obj):
        params = params[1:]  # a factory takes the optimizer first
    kwargs = tuple(
        registry.kwarg_from_annotation(
            p.name,
            "" if p.annotation is p.empty else _annotation_text(p.annotation),
            REQUIRED if p.default is p.empty else p.default,
        )
        for p in params
        if p.name not in registry.HIDDEN_KWARGS
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )
    doc = (inspect.getdoc(obj) or "").strip().splitlines()
    module, _, cls = name.partition(":")
    _PLUGINS[name] = SchedulerInfo(
        name,
        cls,
        printable(doc[0], newlines=False) if doc else f"plug-in {name}",
        kwargs,
        module=module,
        traits=registry.traits_for(obj),
        obj=obj,
    )
    return _PLUGINS[name]


def _annotation_text(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
