"""Students' working copies of the lessons: ``python -m lab_utils.students [FOLDER]``, or
``lab-utils-lessons [FOLDER]`` where the kit was installed with pip.

``make lab`` runs this before it opens JupyterLab on ``my-lessons/``: each lesson of
``notebooks/`` (the instructor versions) is copied there once, with every solution region
replaced by ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (as nbgrader's
release does), hidden tests
removed and outputs cleared. A copy that already exists is never touched, so a student's work
survives every later ``make lab``; a new lesson appears the first time after it was added.

This is the light, nbgrader-free version of ``python -m lab_utils.grading release`` (which
instructors use for graded coursework). Instructors open ``notebooks/`` explicitly:
``make instructor-lab``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lab_utils import resources

NOTEBOOKS = resources.kit_folder("lessons")  # notebooks/, or the installed kit's lessons
STUDENT_FOLDER = Path("my-lessons")  # relative to the current folder (make lab: the checkout)

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TEST_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def strip_solutions(source: str) -> str:
    """``source`` with each marked solution region replaced by ``raise NotImplementedError()``
    (indented like the ``### BEGIN SOLUTION`` line) and each hidden-test region removed."""
    lines, out, skipping = source.split("\n"), [], None
    for line in lines:
        marker = line.strip()
        if skipping is None and marker == SOLUTION_MARKERS[0]:
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
            skipping = SOLUTION_MARKERS[1]
        elif skipping is None and marker == HIDDEN_TEST_MARKERS[0]:
            skipping = HIDDEN_TEST_MARKERS[1]
        elif skipping is not None:
            if marker == skipping:
                skipping = None
        else:
            out.append(line)
    if skipping is not None:
        raise ValueError(
            f"a region opened in this cell is never closed by {skipping!r}:\n{source[:200]}"
        )
    return "\n".join(out)


def student_version(notebook: dict) -> dict:
    """A copy of an instructor notebook (nbformat JSON) without solutions and outputs."""
    copy = json.loads(json.dumps(notebook))
    for cell in copy["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        stripped = strip_solutions(source)
        cell["source"] = [line + "\n" for line in stripped.split("\n")[:-1]] + (
            [stripped.split("\n")[-1]] if stripped.split("\n")[-1] else []
        )
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return copy


def make_copies(
    folder: Path | str = STUDENT_FOLDER,
    notebooks: Path | str = NOTEBOOKS,
    solutions: bool = False,
) -> dict[str, str]:
    """Write the student version of each lesson into ``folder`` unless it is already there.

    With ``solutions=True`` the lessons are copied as written (instructors, and the tests that
    run an installed kit's lessons). Returns ``{lesson file name: "created" or "kept"}``.
    """
    folder, notebooks = Path(folder), Path(notebooks)
    folder.mkdir(parents=True, exist_ok=True)
    result = {}
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        target = folder / path.name
        if target.exists():
            result[path.name] = "kept"
            continue
        notebook = json.loads(path.read_text(encoding="utf-8"))
        copy = notebook if solutions else student_version(notebook)
        text = json.dumps(copy, indent=1, ensure_ascii=False) + "\n"
        temporary = target.with_suffix(".ipynb.part")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(target)  # never a half-written notebook
        result[path.name] = "created"
    return result


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m lab_utils.students`` and ``lab-utils-lessons``."""
    command = argparse.ArgumentParser(
        prog="lab-utils-lessons",
        description=(
            "Copy the kit's lessons into FOLDER as students' working copies: exercises without "
            "solutions, no outputs. A lesson already in FOLDER is never overwritten, so running "
            "this again only adds lessons that are new."
        ),
        epilog="Then open them: jupyter lab FOLDER (in the kit's checkout: make lab).",
    )
    command.add_argument(
        "folder",
        nargs="?",
        default=str(STUDENT_FOLDER),
        metavar="FOLDER",
        help=f"where the copies go (created if missing; default: {STUDENT_FOLDER}/)",
    )
    command.add_argument(
        "--with-solutions",
        action="store_true",
        help="instructors: copy the lessons as written, solutions and hidden tests included",
    )
    return command


def main(argv: list[str] | None = None) -> int:
    """``python -m lab_utils.students [FOLDER]``: make the missing copies, say where they are."""
    arguments = parser().parse_args(sys.argv[1:] if argv is None else argv)
    folder = Path(arguments.folder)
    if folder.exists() and not folder.is_dir():
        parser().error(f"{folder} is a file, not a folder: name a folder for the lessons")
    for name, what in make_copies(folder, solutions=arguments.with_solutions).items():
        print(f"{what:7s} {folder / name}")
    kind = "with their solutions" if arguments.with_solutions else "the exercises without solutions"
    print(
        f"Your lessons are in {folder}/ ({kind}); your work there is never overwritten. "
        f"Open them with: jupyter lab {folder}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
