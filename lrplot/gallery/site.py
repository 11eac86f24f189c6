"""The gallery's site: README.md, index.html and the contact sheet, and publishing to DIR.

Example:
    >>> _code("lrplot cosine --T_max 5")
    '`lrplot cosine --T_max 5`'
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shlex
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lrplot.errors import OutputError, printable
from lrplot.gallery.build import Entry, Gallery
from lrplot.gallery.config import FORMATS
from lrplot.html import LIBRARY_FILE, library_text

if TYPE_CHECKING:
    from lrplot.gallery import GalleryRun

DEFAULT_FORMATS = "png,svg"
README, INDEX, SHEET = "README.md", "index.html", "contact-sheet.png"
#: where the contact-sheet cells go in the staging directory, and their width in pixels.
THUMBS, THUMB_PX = ".thumbs", 480


@dataclass
class EntryResult:
    """One entry's outcome: its diagnostics as (level, message, fix), or its error."""

    name: str
    diagnostics: list[tuple[str, str, str | None]] = field(default_factory=list)
    error: str | None = None


# --------------------------------------------------------------------------- index files


@dataclass
class Card:
    """One entry of README.md and index.html, in the config's order.

    ``entry`` is None when the config could not build it; ``error`` says why it failed
    (to build or to render), else None.
    """

    name: str
    entry: Entry | None
    result: EntryResult
    error: str | None = None


def cards(gallery: Gallery, results: dict[str, EntryResult]) -> list[Card]:
    """Return a card per entry of the config, failed ones included, in the config's order."""
    built = {e.name: e for e in gallery.entries}
    out = []
    for name in gallery.names or list(built):
        if name in built:
            result = results.get(name) or EntryResult(name, error="not rendered")
            out.append(Card(name, built[name], result, result.error))
        elif name in gallery.broken:
            message = _relative(gallery.broken[name], gallery.path)
            out.append(Card(name, None, EntryResult(name, error=message), message))
    return out


def _relative(message: str, path: Path) -> str:
    """Name the config by its file name only in located messages (reproducible bytes)."""
    return "\n".join(
        line.replace(str(path), path.name, 1) if line.startswith(str(path)) else line
        for line in message.splitlines()
    )


def _md(text: str) -> str:
    return printable(text).replace("|", "\\|").replace("\n", "<br>")


def _code(text: str) -> str:
    """Return inline code for a markdown table cell (pipes escaped, newlines as <br>)."""
    return "<br>".join(f"`{_md(line)}`" for line in text.splitlines() if line) or "—"


def _slug(name: str) -> str:
    """Return the anchor GitHub gives a ``## name`` heading (lower case, no dots).

    Example:
        >>> _slug("cosine-1.5_x")
        'cosine-15_x'
    """
    return re.sub(r"[^\w\- ]", "", name.lower()).replace(" ", "-")


def _readme(cards: list[Card], config_name: str, image: str, link: str) -> str:
    """Return README.md: one section per entry (image, description, command, SPEC, notes).

    Sections, not a wide table, so GitHub shows the image and the command at full width;
    an entry that failed keeps its section, marked failed with its error.
    """
    failed = sum(1 for c in cards if c.error)
    lines = [
        "# Learning-rate schedule gallery",
        "",
        f"Rendered by `lrplot gallery` from `{_md(config_name)}`: {len(cards)} "
        f"entr{'y' if len(cards) == 1 else 'ies'}"
        + (f" ({failed} failed)" if failed else "")
        + ". Each curve is the learning rate that every optimizer step uses, taken from the "
        "real scheduler class stepped like a training loop. Do not edit: regenerate with "
        "`lrplot gallery`.",
        "",
        f"![contact sheet]({SHEET})" if failed < len(cards) else "_No entry rendered._",
        "",
    ]
    if cards:
        lines += [
            "Contents: " + " · ".join(f"[{_md(c.name)}](#{_slug(c.name)})" for c in cards),
            "",
        ]
    for card in cards:
        entry, result = card.entry, card.result
        lines += [f"## {_md(card.name)}", ""]
        if card.error:
            lines += ["**✗ failed:**", "", "```text", printable(card.error), "```", ""]
        else:
            lines += [
                f'<a href="{card.name}.{link}"><img src="{card.name}.{image}" width="640" '
                f'alt="{card.name}"></a>',
                "",
            ]
        if entry is None:
            continue
        if entry.description:
            lines += [_md(entry.description), ""]
        lines += ["```console", printable(_command(entry, result)), "```", ""]
        lines += [f"SPEC: {_code(entry.spec_text)}", ""]
        for level, message, fix in result.diagnostics:
            mark = "⚠" if level == "warning" else "ℹ"
            lines.append(f"- {mark} {_md(message)}" + (f" — _{_md(fix)}_" if fix else ""))
        if result.diagnostics:
            lines.append("")
    lines.append(DRAWN_WITH.format(**_versions()))
    return "\n".join(lines) + "\n"


#: the last line of README.md: which drawing libraries made the images.
DRAWN_WITH = "Images drawn with matplotlib {matplotlib} and FreeType {freetype}."


def _versions() -> dict[str, str]:
    from lrplot.render import versions

    return versions()


def _drawn_with(readme: Path) -> dict[str, str] | None:
    """Return the versions a gallery's README.md says its images were drawn with."""
    try:
        text = readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    pattern = re.escape(DRAWN_WITH).replace(r"\{matplotlib\}", r"(?P<matplotlib>\S+)")
    pattern = pattern.replace(r"\{freetype\}", r"(?P<freetype>\S+)")
    found = re.search(pattern, text)
    return found.groupdict() if found else None


def _command(entry: Entry, result: EntryResult) -> str:
    """Return the command that redraws the entry's image (``--annotate`` when it shows notes)."""
    grid = entry.kind == "sweep" and len(entry.grid) > 1  # a sweep grid draws no notes
    if entry.display.annotate and result.diagnostics and not grid:
        return entry.command + " --annotate"
    return entry.command


_CSS = """
*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;
padding:1rem clamp(.6rem,3vw,2rem);max-width:110rem;color:#222;background:#fafafa}
h1{font-weight:600;font-size:clamp(1.3rem,5vw,2rem)}
nav{margin:.8rem 0 1.2rem;line-height:1.9}
nav a{display:inline-block;max-width:100%;margin-right:.7rem;overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,420px),1fr));
gap:1.2rem}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.8rem;min-width:0}
.card img{display:block;width:100%;height:auto;border-radius:4px}
.card h2{font-size:1.05rem;margin:.4rem 0;overflow-wrap:anywhere}
.card h2 a{color:inherit;text-decoration:none}
.card h2 a:hover::after{content:" #";color:#999}
code{font-size:.8rem;background:#f3f3f3;padding:.1rem .25rem;border-radius:3px;
overflow-wrap:anywhere}code .w{white-space:nowrap}
.warning{color:#9a6700}.info{color:#555}
ul{padding-left:1.1rem;margin:.3rem 0}li{font-size:.85rem}
p{margin:.3rem 0}
footer{margin:2rem 0 1rem;color:#777;font-size:.8rem}
""".strip()


def _breakable(text: str) -> str:
    """Escape code for HTML that wraps only between words and after , = : / inside one.

    Each piece is kept whole (``--steps-per-epoch`` never splits at its dashes); copying
    the text copies it unchanged.

    Example:
        >>> _breakable("a b:c").replace('<span class="w">', "[").replace("</span>", "]")
        '[a] [b:]<wbr>[c]'
    """
    words = []
    for word in printable(text).split(" "):
        pieces = re.split(r"(?<=[,=:/])(?=\S)", word)
        words.append("<wbr>".join(f'<span class="w">{html.escape(p)}</span>' for p in pieces))
    return " ".join(words)


def _esc(text: str) -> str:
    return html.escape(printable(text))


def _index(cards: list[Card], config_name: str, image: str, link: str) -> str:
    esc = _esc
    parts = []
    for card in cards:
        entry, result = card.entry, card.result
        diags = "".join(
            f'<li class="{level}">{esc(message)}'
            + (f"<br><em>{esc(fix)}</em>" if fix else "")
            + "</li>"
            for level, message, fix in result.diagnostics
        )
        head = (
            f'<div class="card failed" id="{esc(card.name)}" style="border-color:#cf222e">'
            if card.error
            else f'<div class="card" id="{esc(card.name)}">'
            f'<a href="{esc(card.name)}.{link}"><img src="{esc(card.name)}.{image}" '
            f'alt="{esc(card.name)}" loading="lazy"></a>'
        )
        parts.append(
            head
            + f'<h2><a href="#{esc(card.name)}">{esc(card.name)}</a></h2>'
            + (
                f'<p class="error" style="color:#cf222e;white-space:pre-wrap">'
                f"✗ failed: {esc(card.error)}</p>"
                if card.error
                else ""
            )
            + (
                f"<p>{esc(entry.description)}</p>"
                if entry is not None and entry.description
                else ""
            )
            + (
                f"<p><code>{_breakable(_command(entry, result))}</code></p>"
                + "".join(
                    f"<p><code>{_breakable(line)}</code></p>"
                    for line in entry.spec_text.splitlines()
                )
                if entry is not None
                else ""
            )
            + (f"<ul>{diags}</ul>" if diags else "")
            + "</div>"
        )
    toc = " ".join(f'<a href="#{esc(c.name)}">{esc(c.name)}</a>' for c in cards)
    failed = sum(1 for c in cards if c.error)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>lrplot gallery: {esc(config_name)}</title>\n<style>\n{_CSS}\n</style>\n"
        "</head>\n<body>\n<h1>Learning-rate schedule gallery</h1>\n"
        f"<p>Rendered by <code>lrplot gallery</code> from <code>{esc(config_name)}</code>: "
        f"{len(cards)} entries"
        + (f" ({failed} failed)" if failed else "")
        + f'. <a href="{SHEET}">Contact sheet</a>.</p>\n'
        + (f'<nav aria-label="entries">{toc}</nav>\n' if cards else "")
        + '<div class="grid">\n'
        + "\n".join(parts)
        + f"\n</div>\n<footer>{esc(DRAWN_WITH.format(**_versions()))}</footer>\n"
        + "</body>\n</html>\n"
    )


def finish(
    gallery: Gallery,
    results: dict[str, EntryResult],
    formats: tuple[str, ...],
    staging: str,
    pool: Any,
) -> list[str]:
    """Write the contact sheet, README.md and index.html into staging; return all outputs.

    Failed entries keep a card marked failed with their error. When no entry rendered,
    nothing is produced, so DIR keeps the index files it has.
    """
    entries = [e for e in gallery.entries if not results[e.name].error]
    if not entries:
        return []
    produced = [f"{e.name}.{fmt}" for e in entries for fmt in formats]
    pictures = [f for f in formats if f != "html"]
    thumb = "png" if "png" in pictures else pictures[0]
    full = "html" if "html" in formats else "svg" if "svg" in pictures else thumb
    if "html" in formats:  # one copy of uPlot and the viewer for every page
        with open(os.path.join(staging, LIBRARY_FILE), "w", encoding="utf-8", newline="\n") as f:
            f.write(library_text())
        produced.append(LIBRARY_FILE)
    from lrplot.render import contact_sheet

    images = [(e.name, os.path.join(staging, THUMBS, f"{e.name}.png")) for e in entries]
    sheet = os.path.join(staging, SHEET)
    if pool is not None:  # a worker has matplotlib loaded already
        pool.submit(contact_sheet, images, sheet, 4).result()
    else:
        contact_sheet(images, sheet, 4)
    produced.append(SHEET)
    every = cards(gallery, results)
    # The name only: a path would tie the bytes to where the config and DIR sit.
    for name, write in ((README, _readme), (INDEX, _index)):
        text = write(every, gallery.path.name, thumb, full)
        with open(os.path.join(staging, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return [*produced, README, INDEX]


# --------------------------------------------------------------------------- publishing

#: the record, in DIR, of the files lrplot gallery wrote there (and may replace).
MANIFEST = ".lrplot-gallery.json"
#: how long a run waits for another run writing the same DIR, in seconds.
LOCK_WAIT = 60.0


@contextlib.contextmanager
def locked(out_dir: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold DIR's lock while the block runs: one writer, or any number of readers.

    A second run writing the same DIR waits up to ``LOCK_WAIT`` seconds, then refuses,
    so DIR never holds a mix of two runs' files. The lock is ``flock`` on the directory
    itself (no lock file; released by the kernel if the process dies). Without ``fcntl``
    (Windows) there is no lock.

    Raises:
        OutputError: another run kept DIR locked for ``LOCK_WAIT`` seconds.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        fd = os.open(out_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise OutputError(f"cannot open {_shown(out_dir)}: {exc.strerror or exc}") from None
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OutputError(
                        f"{_shown(out_dir)} is being written by another lrplot gallery run "
                        f"(waited {LOCK_WAIT:g} s)",
                        hint="run one gallery per directory at a time",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def _shown(path: Path) -> str:
    return printable(str(path))


def _read_manifest(out_dir: Path) -> set[str]:
    """Return the names DIR's manifest lists (none when it has no manifest).

    Raises:
        OutputError: the manifest is not one lrplot wrote.
    """
    path = out_dir / MANIFEST
    if not os.path.lexists(path):
        return set()
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read(1_000_000))
        names = data["files"]
        if data.get("written_by") != "lrplot gallery" or not all(
            isinstance(n, str) and n and "/" not in n and n not in (".", "..") for n in names
        ):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise OutputError(
            f"{_shown(path)} is not a manifest that lrplot wrote",
            hint="move it away; lrplot keeps there the list of the files it wrote in DIR",
        ) from None
    return set(names)


def _write_manifest(out_dir: Path, names: set[str]) -> None:
    from lrplot.export import atomic_write

    text = json.dumps(
        {
            "written_by": "lrplot gallery",
            "about": "the files lrplot gallery wrote in this directory and may replace",
            "files": sorted(names),
        },
        indent=1,
    )
    path = out_dir / MANIFEST
    try:
        if path.read_text(encoding="utf-8") == text + "\n":
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, _copier((text + "\n").encode()), binary=True)


def publish(
    outcome: GalleryRun, produced: list[str], staging: str, inputs: dict[str, str] | None = None
) -> None:
    """Copy changed files from staging into DIR atomically; note foreign images.

    Only files lrplot wrote are ever replaced: DIR's manifest (``MANIFEST``) lists them.
    A file in the way that lrplot did not write is refused before anything is written,
    unless its bytes already equal the fresh render (then it is recorded, not touched).

    Raises:
        UsageError: a file to write is one the run reads (``inputs``: the config, metrics).
        OutputError: DIR cannot be created or locked, it holds files in the way that
            lrplot did not write, or a file cannot be written.
    """
    from lrplot.export import atomic_write, check_not_input

    if not produced:  # nothing rendered: DIR is left exactly as it was (not even created)
        outcome.foreign = _foreign_images(produced, outcome.out_dir)
        return
    for name in produced:
        check_not_input(outcome.out_dir / name, inputs or {})

    out_dir = outcome.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {_shown(out_dir)}: {exc.strerror or exc}") from None
    with locked(out_dir):
        owned = _read_manifest(out_dir)
        stale, missing = _changes(produced, staging, out_dir)
        changed = set(stale) | set(missing)
        foreign = [
            n for n in produced if n in changed and os.path.lexists(out_dir / n) and n not in owned
        ]
        if foreign:
            shown = ", ".join(foreign[:5]) + (
                f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
            )
            raise OutputError(
                f"{_shown(out_dir)} holds files that lrplot did not write: {printable(shown)}; "
                "lrplot never replaces them",
                hint="move them away, or choose another --out (lrplot lists the files it "
                f"wrote in {MANIFEST})",
            )
        keep = {n for n in owned if os.path.lexists(out_dir / n)}
        _write_manifest(out_dir, keep | set(produced))
        written = [n for n in produced if n in changed]  # images first, the index files last
        for name in written:
            atomic_write(out_dir / name, _copier(Path(staging, name).read_bytes()), binary=True)
    outcome.written = written
    outcome.unchanged = len(produced) - len(written)
    outcome.foreign = _foreign_images(produced, out_dir)


def _changes(produced: list[str], staging: str, out_dir: Path) -> tuple[list[str], list[str]]:
    """Return the files of ``out_dir`` that differ from the fresh render, and those missing.

    Anything but a regular file (a directory, a link to nowhere, a FIFO) counts as missing.
    """
    missing = [name for name in produced if not _regular(out_dir / name)]
    stale = [
        name
        for name in produced
        if name not in missing and (out_dir / name).read_bytes() != Path(staging, name).read_bytes()
    ]
    return stale, missing


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _foreign_images(produced: list[str], out_dir: Path) -> list[str]:
    keep = set(produced)
    try:
        names = sorted(p.name for p in out_dir.iterdir() if p.is_file())
    except OSError:
        return []
    return [
        n
        for n in names
        if n not in keep and not n.startswith(".") and n.rpartition(".")[2].lower() in FORMATS
    ]


def _copier(data: bytes) -> Callable[[IO[bytes]], None]:
    def copy(handle: IO[bytes]) -> None:
        handle.write(data)

    return copy


def compare(
    outcome: GalleryRun,
    produced: list[str],
    staging: str,
    config: Path,
    chosen: tuple[str, ...],
    formats: str | None,
    allow_import: bool,
) -> None:
    """Compare the fresh render with DIR: record stale and missing files and the fix."""
    out_dir = outcome.out_dir
    with locked(out_dir, shared=True) if _is_dir(out_dir) else contextlib.nullcontext():
        outcome.stale, outcome.missing = _changes(produced, staging, out_dir)
        outcome.foreign = _foreign_images(produced, out_dir)  # left over from removed entries
    if outcome.stale:
        was, now = _drawn_with(out_dir / README), _versions()
        if was is not None and was != now:
            outcome.drawn_with = (
                f"{out_dir} was drawn with matplotlib {was['matplotlib']} and FreeType "
                f"{was['freetype']}; this run uses matplotlib {now['matplotlib']} and FreeType "
                f"{now['freetype']}: images differ between versions even when nothing else "
                "changed (install the versions pinned in constraints.txt, or regenerate)"
            )
    command = ["lrplot", "gallery", str(config), "--out", str(out_dir)]
    if formats is not None and formats != DEFAULT_FORMATS:
        command += ["--format", ",".join(chosen)]
    if allow_import:
        command.append("--allow-import")
    outcome.regenerate = shlex.join(command)
