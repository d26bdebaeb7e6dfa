"""nbgrader plug-ins used by ``lab_utils.grading`` (imported by nbgrader only, never by lessons).

* :class:`FreshKit` (sanitising step, after nbgrader restored the locked cells): every graded
  check cell runs with the kit's modules taken out of ``sys.modules`` and the ones it uses
  imported again from the read-only files (put back afterwards), so a module the student
  changed in memory (``vars(pixels).update(check_x=...)``, a fake
  ``sys.modules['lab_utils.pixels']``) is not the one that checks. Every lesson gets it with
  no line in the notebook.
* :class:`LimitOutputBytes` (after execution): any output larger than ``max_bytes`` (text,
  images, HTML) is replaced by a short note, so one huge line or image cannot make a huge
  feedback file.
* :func:`notebook_timeout`: nbclient's ``timeout_func``: each cell gets the per-cell limit or
  what is left of the per-notebook limit (``LAB_UTILS_NOTEBOOK_TIMEOUT`` seconds), whichever
  is smaller, so a notebook of many slow cells stops at the notebook limit and the cells after
  it are still run (briefly) and graded.
"""

from __future__ import annotations

import ast
import json
import math
import os
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

if TYPE_CHECKING:
    from nbformat import NotebookNode

KIT = Path(__file__).resolve().parent
FRESH_MARK = "# added by the grader: a fresh copy of the kit for this check"


def kit_modules() -> set:
    """Names of the kit's modules and lesson packages (``pixels``, ``exercises``, ...)."""
    modules = {path.stem for path in KIT.glob("*.py")}
    packages = {path.name for path in KIT.iterdir() if (path / "__init__.py").exists()}
    return {name for name in modules | packages if not name.startswith("_")}


def fresh_prefix(source: str) -> str:
    """The check cell run with a fresh copy of the kit modules it names ('' if none).

    The kit's modules are taken out of ``sys.modules``, the ones the cell names are imported
    again from the (read-only) files, the check runs, and then everything is put back as it
    was, so later cells see the same objects as before (the lesson's own ``exercises`` classes,
    ``solution_or`` and so on).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    used = sorted(
        {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} & kit_modules()
    )
    if not used:
        return ""
    imports = "".join(
        f'    {name} = __grader_importlib.import_module("lab_utils.{name}")\n' for name in used
    )
    body = textwrap.indent(source.rstrip() or "pass", "    ") + "\n"
    kit = "(__n == 'lab_utils' or __n.startswith('lab_utils.'))"
    return (
        f"{FRESH_MARK}\n"
        "import sys as __grader_sys, importlib as __grader_importlib\n"
        f"__grader_saved = {{__n: __m for __n, __m in list(__grader_sys.modules.items()) "
        f"if {kit}}}\n"
        f"__grader_names = {{__n: globals()[__n] for __n in {used!r} if __n in globals()}}\n"
        "for __grader_name in __grader_saved:\n"
        "    del __grader_sys.modules[__grader_name]\n"
        "try:\n"
        f"{imports}"
        f"{body}"
        "finally:\n"
        f"    for __grader_name in [__n for __n in list(__grader_sys.modules) if {kit}]:\n"
        "        del __grader_sys.modules[__grader_name]\n"
        "    __grader_sys.modules.update(__grader_saved)\n"
        "    globals().update(__grader_names)\n"
    )


class FreshKit(NbGraderPreprocessor):
    """Prefix every graded check cell with a fresh import of the kit modules it uses."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict, index: int
    ) -> tuple[NotebookNode, dict]:
        """Wrap a graded check cell (not a solution cell) in ``fresh_prefix``, once."""
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            wrapped = fresh_prefix(cell.source)
            if wrapped and FRESH_MARK not in cell.source:
                cell.source = wrapped
        return cell, resources


class LimitOutputBytes(NbGraderPreprocessor):
    """Replace any output bigger than ``max_bytes`` by a note saying so."""

    max_bytes = Integer(
        int(os.environ.get("LAB_UTILS_OUTPUT_BYTES", 1_000_000)),
        help="largest output (bytes of text or encoded data) kept",
    ).tag(config=True)

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict, index: int
    ) -> tuple[NotebookNode, dict]:
        """Replace each of the cell's outputs larger than ``max_bytes`` by a note."""
        if cell.cell_type != "code":
            return cell, resources
        kept = []
        for output in cell.get("outputs", []):
            size = len(json.dumps(output, default=str))
            if size <= self.max_bytes:
                kept.append(output)
                continue
            note = (
                f"[grader] an output of {size:,} bytes was removed "
                f"(limit {self.max_bytes:,} bytes)\n"
            )
            if output.get("output_type") == "error":
                output["traceback"] = [note]
                output["evalue"] = output.get("evalue", "")[:1000]
                kept.append(output)
            else:
                from nbformat.v4 import new_output

                kept.append(new_output("stream", name="stdout", text=note))
        cell.outputs = kept
        return cell, resources


_started: list = []


def notebook_timeout(source: object = None) -> int:
    """Seconds for the next cell: min(per-cell limit, what is left of the notebook's limit)."""
    per_cell = int(os.environ.get("LAB_UTILS_CELL_TIMEOUT", "300"))
    total = os.environ.get("LAB_UTILS_NOTEBOOK_TIMEOUT")
    if not total:
        return per_cell
    if not _started:
        _started.append(time.monotonic())
    left = float(total) - (time.monotonic() - _started[0])
    return max(1, min(per_cell, math.ceil(left)))
