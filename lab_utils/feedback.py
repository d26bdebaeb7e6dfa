"""Feedback pages for graded submissions: small, static and safe (instructors only).

:func:`feedback_page` turns an executed notebook (an nbformat dict) into one HTML page: the
score, then every cell's source and outputs (stream text, ``text/plain``, errors with their
traceback, ``image/png`` and ``image/jpeg`` as data URLs, ``text/html`` and rendered markdown).
Nothing on the page can run or load anything:

* every fragment goes through the `nh3 <https://nh3.readthedocs.io>`_ sanitiser (no
  ``<script>``, no ``on*`` attributes, no ``javascript:`` URLs, no ``<style>``, no forms); the
  only ``data:`` URLs kept are PNG/JPEG images, and images load from nowhere else;
* the page declares a Content-Security-Policy that forbids scripts and remote content anyway;
* every cell's source and every output is cut at :data:`MAX_PART` characters (images at
  :data:`MAX_IMAGE`), with a note saying how much was cut, and the page stops growing at
  :data:`MAX_PAGE` bytes: the graded cells are shown first in the budget (briefly once it runs
  low), other cells are left out with a note.

``lab_utils.grading`` writes one page per graded submission; nbgrader's own
``generate_feedback`` is not used (its pages keep scripts and every output in full).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Mapping

import nh3

MAX_PART = 100_000  # characters of one cell's source or one text output shown
MAX_IMAGE = 1_000_000  # characters of one base64 image shown
MAX_PAGE = 5_000_000  # bytes of one page
RESERVE = 1_000_000  # bytes of the page kept for the graded cells
COMPACT_PART = 2_000  # characters per part once the page budget runs low
MARKDOWN_SECONDS = 5.0  # rendering time for markdown cells, per page; plain text after that
MAX_MARKDOWN = 20_000  # longer markdown cells are shown as plain text

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_IMAGE_URL = re.compile(r"data:image/(?:png|jpeg);base64,[A-Za-z0-9+/=\s]*", re.IGNORECASE)
_TAGS = set(nh3.ALLOWED_TAGS)
_ATTRIBUTES = {
    **{tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()},
    **{tag: {"class"} for tag in ("div", "span", "pre", "code", "p", "h1", "h2", "h3")},
}
_ATTRIBUTES["img"] = set(nh3.ALLOWED_ATTRIBUTES["img"])
STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }
pre { white-space: pre-wrap; word-break: break-word; background: #f6f6f6; padding: .5em; }
.cell { border-top: 1px solid #ddd; margin-top: 1em; }
.graded { border-left: 4px solid #36c; padding-left: .5em; }
.points { font-weight: bold; }
.stderr, .error { background: #fdecec; }
.note { color: #a60; font-style: italic; }
img { max-width: 100%; }
"""
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes and control characters (tabs, newlines stay)."""
    return _CONTROL.sub("", _ANSI.sub("", text))


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    """Keep ``src`` only on images and only as a PNG/JPEG data URL; no other ``data:`` URL."""
    if element == "img" and attribute == "src":
        return value if _IMAGE_URL.fullmatch(value.strip()) else None
    if value.strip().lower().startswith("data:") and attribute in ("href", "cite"):
        return None
    return value


def sanitize(fragment: str) -> str:
    """``fragment`` through nh3: known-safe tags and attributes only, no scripts or handlers."""
    return nh3.clean(
        fragment,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=set(nh3.ALLOWED_URL_SCHEMES) | {"data"},
        strip_comments=True,
    )


def _text(value: object) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return value if isinstance(value, str) else ""


def cut(text: str, limit: int = MAX_PART, what: str = "text") -> tuple[str, str]:
    """(the first ``limit`` characters of ``text``, a note saying what was cut or '')."""
    if len(text) <= limit:
        return text, ""
    return text[:limit], (
        f"[grader] {what} of {len(text):,} characters cut: the first {limit:,} are shown"
    )


def _note(note: str) -> str:
    return f'<p class="note">{html.escape(note)}</p>' if note else ""


def _pre(text: str, limit: int, what: str, css: str = "") -> str:
    shown, note = cut(text, limit, what)
    shown = strip_ansi(shown)
    attribute = f' class="{css}"' if css else ""
    return f"<pre{attribute}>{html.escape(shown)}</pre>{_note(note)}"


class _Renderer:
    """Renders cells one by one; ``limit`` is the characters allowed per part."""

    def __init__(self) -> None:
        self.markdown_seconds = 0.0

    def markdown(self, source: str, limit: int) -> str:
        if (
            len(source) > MAX_MARKDOWN
            or self.markdown_seconds > MARKDOWN_SECONDS
            or limit < MAX_PART
        ):
            return _pre(source, limit, "this cell")
        try:
            import mistune
        except ImportError:  # pragma: no cover - nbconvert brings mistune
            return _pre(source, limit, "this cell")
        start = time.monotonic()
        rendered = mistune.html(source)
        self.markdown_seconds += time.monotonic() - start
        return f'<div class="markdown">{rendered}</div>'

    def output(self, output: Mapping, limit: int) -> str:
        kind = output.get("output_type")
        if kind == "stream":
            name = "stderr" if output.get("name") == "stderr" else "stdout"
            return _pre(_text(output.get("text")), limit, "this output", name)
        if kind == "error":
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}\n\n"
            traceback = output.get("traceback") or []
            lines = [traceback] if isinstance(traceback, str) else traceback
            text += "\n".join(
                _text(line) if isinstance(line, list) else str(line) for line in lines
            )
            return _pre(text, limit, "this error", "error")
        if kind in ("execute_result", "display_data"):
            return self.data(output.get("data", {}) or {}, limit)
        return ""

    def data(self, data: Mapping, limit: int) -> str:
        for mime in ("image/png", "image/jpeg"):
            if mime in data:
                encoded = re.sub(r"\s", "", _text(data[mime]))
                if limit < MAX_PART or len(encoded) > MAX_IMAGE:
                    return _note(f"[grader] an image of {len(encoded):,} characters is not shown")
                return f'<img alt="output" src="data:{mime};base64,{encoded}">'
        if "text/html" in data:
            shown, note = cut(_text(data["text/html"]), limit, "this output")
            return f'<div class="html-output">{shown}</div>{_note(note)}'
        if "text/markdown" in data:
            return self.markdown(_text(data["text/markdown"]), limit)
        for mime in ("text/plain", "text/latex"):
            if mime in data:
                return _pre(_text(data[mime]), limit, "this output")
        return ""

    def cell(self, cell: Mapping, limit: int, heading: str, room: int) -> str:
        """The cell's fragment; outputs stop (with a note) once it passes ``room`` characters."""
        kind = cell.get("cell_type")
        source = _text(cell.get("source"))
        graded = ' graded"' if heading else '"'
        parts = [f'<div class="cell{graded}>', heading]
        if kind == "markdown":
            parts.append(self.markdown(source, limit))
        else:
            count = cell.get("execution_count")
            label = f"In [{count if isinstance(count, int) else ' '}]:"
            parts.append(f'<p class="prompt">{html.escape(label)}</p>')
            parts.append(_pre(source, limit, "this cell's source", "source"))
            outputs = [o for o in cell.get("outputs", []) or [] if isinstance(o, Mapping)]
            size = sum(map(_size, parts)) + 1000
            for shown, output in enumerate(outputs):
                rendered = self.output(output, limit)
                if size + _size(rendered) > room:
                    parts.append(_note(f"[grader] {len(outputs) - shown} more output(s) not shown"))
                    break
                parts.append(rendered)
                size += _size(rendered)
        parts.append("</div>")
        return sanitize("".join(parts))


def _grading(cell: Mapping) -> dict:
    meta = cell.get("metadata", {}) or {}
    nbgrader = meta.get("nbgrader", {}) if isinstance(meta, Mapping) else {}
    return nbgrader if isinstance(nbgrader, Mapping) else {}


def _heading(cell: Mapping, scores: Mapping) -> str:
    """The score line above a graded check cell ('' for other cells)."""
    meta = _grading(cell)
    if not (meta.get("grade") or meta.get("solution")):
        return ""
    grade_id = str(meta.get("grade_id", ""))
    if not meta.get("grade") or meta.get("solution"):
        return f'<p class="points">{html.escape(grade_id)}</p>'
    got = scores.get(grade_id, "?")
    text = f"{grade_id}: {got} / {meta.get('points', '?')} points"
    return f'<p class="points">{html.escape(text)}</p>'


def _size(fragment: str) -> int:
    return len(fragment.encode("utf-8"))


def _header(title: str, scores: Mapping, total: object, max_score: object) -> str:
    lines = [f"<h1>{html.escape(title)}</h1>"]
    if total not in (None, ""):
        lines.append(f'<p class="points">Score: {html.escape(f"{total} / {max_score}")}</p>')
    if scores:
        items = "".join(
            f"<li>{html.escape(f'{name}: {points}')}</li>" for name, points in scores.items()
        )
        lines.append(f"<ul>{items}</ul>")
    return sanitize("".join(lines))


def _body(cells: list, scores: Mapping, budget: int) -> list[str]:
    """The cells' fragments within ``budget`` bytes: graded cells first in line for space."""
    renderer, parts, used, left_out = _Renderer(), [], 0, 0
    for cell in cells:
        if not isinstance(cell, Mapping):
            continue
        heading = _heading(cell, scores)
        room = budget - used - (0 if heading else RESERVE)
        fragment = renderer.cell(cell, MAX_PART, heading, room) if room > 0 else ""
        if heading and (not fragment or _size(fragment) > room):
            fragment = renderer.cell(cell, COMPACT_PART, heading, room)
        if not fragment or _size(fragment) > room:
            left_out += 1
            continue
        if left_out:
            parts.append(_note(f"[grader] {left_out} cell(s) not shown (page size limit)"))
            used += 200
            left_out = 0
        parts.append(fragment)
        used += _size(fragment)
    if left_out:
        parts.append(_note(f"[grader] {left_out} cell(s) not shown (page size limit)"))
    return parts


def feedback_page(
    notebook: Mapping,
    *,
    title: str = "Feedback",
    scores: Mapping | None = None,
    total: object = None,
    max_score: object = None,
) -> str:
    """The feedback page (HTML text, at most about :data:`MAX_PAGE` bytes) of an executed notebook.

    ``scores`` maps each graded check's id to its points (shown above the check cell and in
    the summary); ``total`` and ``max_score`` give the score line.
    """
    scores = dict(scores or {})
    header = _header(title, scores, total, max_score)
    cells = notebook.get("cells", []) if isinstance(notebook, Mapping) else []
    cells = cells if isinstance(cells, list) else []
    body = _body(cells, scores, MAX_PAGE - 10_000 - _size(header))
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + header
        + "\n".join(body)
        + "\n</body></html>\n"
    )
