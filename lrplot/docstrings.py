"""What a scheduler and its kwargs mean, taken from the scheduler's own docstring.

The ``Args:`` section is read with ``docstring_parser`` (Google, NumPy, reST and Epydoc
styles), for the built-ins and plug-ins alike. torch's docstrings are read from the
installed ``torch/optim/lr_scheduler.py`` with ``ast`` instead of importing torch (about
1 s), so ``lrplot cosine --help`` stays fast and always matches the torch that is installed.

Example:
    >>> describe_params('''Warm up.
    ...
    ...     Args:
    ...         total (int): Steps in the whole schedule. Default: 100.
    ... ''')
    {'total': 'Steps in the whole schedule.'}
    >>> first_sentence("Anneal the learning rate along a half cosine. Then restart it.")
    'Anneal the learning rate along a half cosine.'
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any

__all__ = ["describe_params", "first_sentence", "object_docs", "torch_docs"]

#: a description this short (a list of choices) gets its next sentence too.
_SHORT = 30
#: ... unless the two together would be longer than this.
_LONG = 160
_DEFAULT = re.compile(
    r"\s*(\(\s*default\s*[=:][^)]*\)|\bDefaults?(\s+to)?\s*[:=]?\s*[^\s].*?(\.(\s|$)|$))",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<![ .]e\.g)(?<![ .]i\.e)(?<!etc)\.\s+(?=[A-Z(`'\"])")


def _plain(text: str) -> str:
    """Return docstring text without reST roles and literals, on one line."""
    text = re.sub(r":(math|meth|func|class|attr|obj|mod|ref):`~?([^`]*)`", r"\2", text)
    text = re.sub(r"``([^`]*)``", r"\1", text)
    text = re.sub(r"`([^`]*)`_?", r"\1", text)
    text = text.replace("\\_", "_").replace("{", "").replace("}", "")
    return " ".join(text.split())


def first_sentence(text: str) -> str:
    """Return the first sentence of a text (two when the first is very short).

    Example:
        >>> first_sentence("One of min, max. In min mode the lr is cut when it stops falling.")
        'One of min, max. In min mode the lr is cut when it stops falling.'
    """
    text = _plain(text)
    parts = _SENTENCE_END.split(text)
    out = parts[0].strip()
    if len(out) < _SHORT and len(parts) > 1 and len(out) + len(parts[1]) < _LONG:
        out = f"{out}. {parts[1].strip()}"
    out = out.rstrip()
    return out if not out or out.endswith((".", "!", "?")) else out + "."


def summary(doc: str | None) -> str:
    """Return the first sentence of a docstring's first paragraph ('' without one).

    Example:
        >>> summary('''Sets the lr of each group according
        ...     to the 1cycle policy. More text.''')
        'Sets the lr of each group according to the 1cycle policy.'
    """
    if not doc:
        return ""
    paragraph = inspect.cleandoc(doc).strip().split("\n\n")[0]
    return first_sentence(paragraph)


def describe_params(doc: str | None) -> dict[str, str]:
    """Return ``{kwarg: description}`` from a docstring's parameter section.

    Each description is its first sentence, without the ``Default: ...`` part (``--help``
    shows the signature's default).
    """
    if not doc:
        return {}
    import docstring_parser

    found: dict[str, str] = {}
    for style in (docstring_parser.Style.AUTO, docstring_parser.Style.GOOGLE):
        try:
            parsed = docstring_parser.parse(doc, style)
        except docstring_parser.ParseError:
            continue
        for param in parsed.params:
            name = re.split(r"[\s(:]", param.arg_name.strip(), maxsplit=1)[0].lstrip("*")
            text = _DEFAULT.sub(" ", _plain(param.description or ""))
            text = re.sub(r"\s+([.,;:])", r"\1", " ".join(text.split()))
            if name and text and name not in found:
                found[name] = first_sentence(text)
    return found


def object_docs(obj: Any) -> dict[str, str]:
    """Return the kwarg descriptions of a plug-in class or factory.

    A class's kwargs are looked up in its own docstring, its ``__init__``'s, then its
    base classes' (kwargs resolved through ``*args, **kwargs`` are documented there).
    """
    docs: dict[str, str] = {}
    chain = obj.__mro__ if inspect.isclass(obj) else (obj,)
    for klass in chain:
        if klass is object:
            continue
        sources = [klass.__doc__]
        init = vars(klass).get("__init__") if inspect.isclass(klass) else None
        if init is not None:
            sources.append(getattr(init, "__doc__", None))
        for source in sources:
            for key, text in describe_params(inspect.cleandoc(source) if source else "").items():
                docs.setdefault(key, text)
    return docs


@functools.lru_cache(maxsize=1)
def _torch_classes() -> dict[str, str]:
    """Return ``{class name: docstring}`` of the installed ``torch/optim/lr_scheduler.py``."""
    try:
        spec = importlib.util.find_spec("torch")  # finds torch without importing it
    except (ImportError, ValueError):
        return {}
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "optim" / "lr_scheduler.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    return {
        node.name: ast.get_docstring(node) or ""
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }


def torch_docs(cls: str) -> dict[str, str]:
    """Return the kwarg descriptions of a ``torch.optim.lr_scheduler`` class (no torch import).

    Example:
        >>> torch_docs("CosineAnnealingLR")["T_max"]
        'Maximum number of iterations.'
    """
    return describe_params(_torch_classes().get(cls))
