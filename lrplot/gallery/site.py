"""The gallery's site: README.md, index.html and the contact sheet, and publishing to DIR.

Example:
    >>> _code("lrplot cosine --T_max 5")
    '`lrplot cosine --T_max 5`'
"""

from __future__ import annotations

import html
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lrplot.errors import OutputError
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


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


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


def _readme(
    entries: list[Entry], results: dict[str, EntryResult], config_name: str, image: str, link: str
) -> str:
    """Return README.md: one section per entry (image, description, command, SPEC, notes).

    Sections, not a wide table, so GitHub shows the image and the command at full width.
    """
    lines = [
        "# Learning-rate schedule gallery",
        "",
        f"Rendered by `lrplot gallery` from `{config_name}`: {len(entries)} "
        f"entr{'y' if len(entries) == 1 else 'ies'}. Each curve is the learning rate that "
        "every optimizer step uses, taken from the real scheduler class "
        "stepped like a training loop. Do not edit: regenerate with `lrplot gallery`.",
        "",
        f"![contact sheet]({SHEET})" if entries else "_No entry rendered._",
        "",
    ]
    if entries:
        lines += [
            "Contents: " + " · ".join(f"[{_md(e.name)}](#{_slug(e.name)})" for e in entries),
            "",
        ]
    for entry in entries:
        result = results[entry.name]
        lines += [
            f"## {_md(entry.name)}",
            "",
            f'<a href="{entry.name}.{link}"><img src="{entry.name}.{image}" width="640" '
            f'alt="{entry.name}"></a>',
            "",
        ]
        if entry.description:
            lines += [entry.description, ""]
        lines += ["```console", _command(entry, result), "```", ""]
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
    for word in text.split(" "):
        pieces = re.split(r"(?<=[,=:/])(?=\S)", word)
        words.append("<wbr>".join(f'<span class="w">{html.escape(p)}</span>' for p in pieces))
    return " ".join(words)


def _index(
    entries: list[Entry], results: dict[str, EntryResult], config_name: str, image: str, link: str
) -> str:
    esc = html.escape
    cards = []
    for entry in entries:
        result = results[entry.name]
        diags = "".join(
            f'<li class="{level}">{esc(message)}'
            + (f"<br><em>{esc(fix)}</em>" if fix else "")
            + "</li>"
            for level, message, fix in result.diagnostics
        )
        cards.append(
            f'<div class="card" id="{esc(entry.name)}">'
            f'<a href="{esc(entry.name)}.{link}"><img src="{esc(entry.name)}.{image}" '
            f'alt="{esc(entry.name)}" loading="lazy"></a>'
            f'<h2><a href="#{esc(entry.name)}">{esc(entry.name)}</a></h2>'
            + (f"<p>{esc(entry.description)}</p>" if entry.description else "")
            + f"<p><code>{_breakable(_command(entry, result))}</code></p>"
            + "".join(
                f"<p><code>{_breakable(line)}</code></p>" for line in entry.spec_text.splitlines()
            )
            + (f"<ul>{diags}</ul>" if diags else "")
            + "</div>"
        )
    toc = " ".join(f'<a href="#{esc(e.name)}">{esc(e.name)}</a>' for e in entries)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>lrplot gallery: {esc(config_name)}</title>\n<style>\n{_CSS}\n</style>\n"
        "</head>\n<body>\n<h1>Learning-rate schedule gallery</h1>\n"
        f"<p>Rendered by <code>lrplot gallery</code> from <code>{esc(config_name)}</code>: "
        f'{len(entries)} entries. <a href="{SHEET}">Contact sheet</a>.</p>\n'
        + (f'<nav aria-label="entries">{toc}</nav>\n' if entries else "")
        + '<div class="grid">\n'
        + "\n".join(cards)
        + f"\n</div>\n<footer>{esc(DRAWN_WITH.format(**_versions()))}</footer>\n"
        + "</body>\n</html>\n"
    )


def finish(
    gallery: Gallery,
    entries: list[Entry],
    results: dict[str, EntryResult],
    formats: tuple[str, ...],
    staging: str,
    pool: Any,
) -> list[str]:
    """Write the contact sheet, README.md and index.html into staging; return all outputs."""
    produced = [f"{e.name}.{fmt}" for e in entries for fmt in formats]
    pictures = [f for f in formats if f != "html"]
    thumb = "png" if "png" in pictures else pictures[0]
    full = "html" if "html" in formats else "svg" if "svg" in pictures else thumb
    if "html" in formats:  # one copy of uPlot and the viewer for every page
        with open(os.path.join(staging, LIBRARY_FILE), "w", encoding="utf-8", newline="\n") as f:
            f.write(library_text())
        produced.append(LIBRARY_FILE)
    if entries:
        from lrplot.render import contact_sheet

        images = [(e.name, os.path.join(staging, THUMBS, f"{e.name}.png")) for e in entries]
        sheet = os.path.join(staging, SHEET)
        if pool is not None:  # a worker has matplotlib loaded already
            pool.submit(contact_sheet, images, sheet, 4).result()
        else:
            contact_sheet(images, sheet, 4)
        produced.append(SHEET)
    # The name only: a path would tie the bytes to where the config and DIR sit.
    for name, write in ((README, _readme), (INDEX, _index)):
        text = write(entries, results, gallery.path.name, thumb, full)
        with open(os.path.join(staging, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return [*produced, README, INDEX]


def publish(outcome: GalleryRun, produced: list[str], staging: str) -> None:
    """Copy changed files from staging into DIR atomically; note foreign images."""
    from lrplot.export import atomic_write

    out_dir = outcome.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    stale, missing = _changes(produced, staging, out_dir)
    for name in stale + missing:
        atomic_write(out_dir / name, _copier(Path(staging, name).read_bytes()), binary=True)
    outcome.written = stale + missing
    outcome.unchanged = len(produced) - len(outcome.written)
    outcome.foreign = _foreign_images(produced, out_dir)


def _changes(produced: list[str], staging: str, out_dir: Path) -> tuple[list[str], list[str]]:
    """Return the files of ``out_dir`` that differ from the fresh render, and those missing."""
    missing = [name for name in produced if not (out_dir / name).is_file()]
    stale = [
        name
        for name in produced
        if name not in missing and (out_dir / name).read_bytes() != Path(staging, name).read_bytes()
    ]
    return stale, missing


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
