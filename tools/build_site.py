"""``make site``: a browsable website of the lessons with their outputs, without solutions.

    python tools/build_site.py [--lessons 01_pixels 05_detection] [--out build/site]

1. The released notebooks (``lab_utils.grading.release``, what ``make release`` hands out: no
   solutions, no hidden tests) are written into ``<out>/book/``;
2. jupyter-book 1.x (offline; 2.x downloads its theme) executes them (an exercise left
   unsolved shows the message a student sees, ``allow_errors``) and builds HTML into
   ``<out>/book/_build/html/`` (``index.html`` lists the lessons);
3. the built pages are searched for solution code: any line of a solution region of
   ``notebooks/`` found in the HTML fails the build.

Cells tagged ``remove-cell`` (the hosted-notebook install cell) are left out of the site.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lab_utils import grading, resources

PROJECT = Path(__file__).resolve().parent.parent
TITLE = "Data Analytics for Images with Deep Learning"

CONFIG = """\
title: "{title}"
author: The kit's authors
only_build_toc_files: true
execute:
  execute_notebooks: force
  allow_errors: true      # an unsolved exercise shows the student's message, the lesson goes on
  timeout: {timeout}
html:
  use_repository_button: false
  use_issues_button: false
  use_edit_page_button: false
launch_buttons:
  notebook_interface: ""
  binderhub_url: ""
  colab_url: ""
  thebe: false
sphinx:
  config:
    html_show_copyright: false
    nb_merge_streams: true
"""


def solution_lines(notebook: dict) -> list[str]:
    """The code lines inside ``### BEGIN SOLUTION`` regions (stripped; short ones left out)."""
    lines, inside = [], False
    for cell in notebook["cells"]:
        for line in "".join(cell["source"]).split("\n"):
            marker = line.strip()
            if marker in ("### BEGIN SOLUTION", "### END SOLUTION"):
                inside = marker.startswith("### BEGIN")
            elif inside and len(marker) >= 12 and not marker.startswith("#"):
                lines.append(marker)
    return lines


def hidden_lines(instructor: dict, released: dict | None = None) -> list[str]:
    """Solution lines of ``instructor`` that the release removed: those the released notebook
    does not show elsewhere (a lesson may show a library fallback sharing a line with it)."""
    shown = set()
    for cell in (released or {"cells": []})["cells"]:
        shown.update(line.strip() for line in "".join(cell["source"]).split("\n"))
    return [line for line in solution_lines(instructor) if line not in shown]


def leaked_solutions(page: str, instructor: dict, released: dict | None = None) -> list[str]:
    """Hidden solution lines (:func:`hidden_lines`) that appear in the HTML ``page``."""
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    return [line for line in hidden_lines(instructor, released) if line in text]


def write_book(names: list[str], folder: Path, timeout: int) -> None:
    """The jupyter-book source: released notebooks, ``_config.yml``, ``_toc.yml``, intro."""
    if folder.exists():
        shutil.rmtree(folder)
    released = folder.parent / "release"
    grading.release(names, root=folder.parent / "course", out=released)
    folder.mkdir(parents=True)
    for name in names:
        shutil.copy2(released / f"{name}.ipynb", folder / f"{name}.ipynb")
    (folder / "_config.yml").write_text(CONFIG.format(title=TITLE, timeout=timeout))
    chapters = "".join(f"  - file: {name}\n" for name in names)
    (folder / "_toc.yml").write_text(f"format: jb-book\nroot: intro\nchapters:\n{chapters}")
    listing = "\n".join(f"- [{name}]({name}.ipynb)" for name in names)
    (folder / "intro.md").write_text(
        f"# {TITLE}\n\nThe lessons as students receive them (exercises without solutions), "
        f"run once so that every figure and table is shown.\n\n{listing}\n"
    )


def build(names: list[str], out: Path, timeout: int = 900) -> Path:
    """Build the site of the lessons ``names`` under ``out``; return the HTML folder."""
    book = out / "book"
    write_book(names, book, timeout)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jupyter_book), "build", "--quiet", str(book)], check=True)
    html_folder = book / "_build" / "html"
    instructor = resources.kit_folder("lessons")
    for name in names:
        page = html_folder / f"{name}.html"
        if not page.exists():
            raise RuntimeError(f"jupyter-book built no page for {name} (see the log above)")
        notebook = json.loads((instructor / f"{name}.ipynb").read_text(encoding="utf-8"))
        released = json.loads((book / f"{name}.ipynb").read_text(encoding="utf-8"))
        leaked = leaked_solutions(page.read_text(encoding="utf-8"), notebook, released)
        if leaked:
            raise RuntimeError(f"{page} shows solution code: {leaked[:3]}")
    return html_folder


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make site``."""
    command = argparse.ArgumentParser(description="Build the lessons' website (make site).")
    command.add_argument("--lessons", nargs="*", help="lesson names (default: all)")
    command.add_argument("--out", default=str(PROJECT / "build" / "site"))
    command.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    arguments = command.parse_args(argv)
    names = arguments.lessons or grading.lessons()
    started = time.perf_counter()
    html_folder = build(names, Path(arguments.out).resolve(), arguments.timeout)
    print(
        f"site of {len(names)} lessons in {time.perf_counter() - started:.0f} s: "
        f"{html_folder / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
