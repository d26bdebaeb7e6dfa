"""Release and autograde the lessons with nbgrader (instructors only).

The instructor notebooks in ``notebooks/`` are the single source. This module

* copies them into a generated nbgrader course folder (``build/course``, git-ignored) and runs
  ``nbgrader generate_assignment``: the student versions (solutions replaced by
  ``raise NotImplementedError()``, hidden tests removed, outputs cleared) land in
  ``build/release/<lesson>.ipynb`` (:func:`release`, ``make release``);
* grades a folder of submissions (``<folder>/<student>/<lesson>.ipynb``) with
  ``nbgrader autograde`` and ``generate_feedback`` and writes ``grades.csv`` (student, lesson,
  points per check, total, tamper flags) and ``feedback/<student>/<lesson>.html``
  (:func:`autograde`, ``make autograde``);
* flags submissions whose code could game the grader (:func:`tamper_flags`).

nbgrader is imported only inside the functions that need it (and run as a subprocess), so
``import lab_utils`` stays light and students never need nbgrader installed. Run it from the
command line with ``python -m lab_utils.grading release`` or ``... autograde SUBMISSIONS``.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = PROJECT / "notebooks"
BUILD = PROJECT / "build"
COURSE_ROOT = BUILD / "course"
RELEASE_FOLDER = BUILD / "release"
GRADES_FOLDER = BUILD / "grades"

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TEST_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

# Environment of the grading kernels: no download attempts, no windows, quiet TensorFlow.
GRADING_ENVIRONMENT = {"LAB_UTILS_OFFLINE": "1", "MPLBACKEND": "Agg",
                       "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0",
                       "PYTHONWARNINGS": "ignore"}


def lessons(folder: Path | str = NOTEBOOKS) -> list[str]:
    """Names of the lesson notebooks (``01_pixels``, ...), in order: every ``NN_*.ipynb``."""
    return sorted(path.stem for path in Path(folder).glob("[0-9][0-9]_*.ipynb"))


def _check_lessons(names, available) -> list[str]:
    names = list(available if names is None else names)
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise ValueError(f"unknown lesson(s) {unknown}; the lessons are {available}")
    return names


def nbgrader(*arguments: str, root: Path | str = COURSE_ROOT, timeout: int | None = None,
             log: Path | None = None) -> subprocess.CompletedProcess:
    """Run one ``nbgrader`` command on the course folder ``root``.

    nbgrader runs from the project folder so that ``nbgrader_config.py`` applies; ``root`` and
    ``timeout`` (seconds per cell) override that file. Its log is appended to ``log``. Returns
    the finished process: nbgrader exits non-zero when one submission failed, which must not
    stop the batch, so the caller decides what a non-zero exit means.
    """
    command = [sys.executable, "-m", "nbgrader", *arguments,
               f"--CourseDirectory.root={Path(root).resolve()}"]
    if timeout is not None:
        command.append(f"--Execute.timeout={int(timeout)}")
    environment = {**os.environ, **GRADING_ENVIRONMENT, "PATH": _path_with_scripts()}
    result = subprocess.run(command, cwd=PROJECT, env=environment, capture_output=True,
                            text=True, check=False)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(command[2:])}\n{result.stdout}{result.stderr}\n")
    return result


def _path_with_scripts() -> str:
    """PATH with this Python's scripts first: nbgrader runs the ``alembic`` command by name."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _require_success(result: subprocess.CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {result.returncode}):\n"
                           f"{result.stdout[-3000:]}{result.stderr[-3000:]}")


def prepare_source(names, root: Path, notebooks: Path = NOTEBOOKS) -> None:
    """Copy each lesson notebook to ``<root>/source/<lesson>/<lesson>.ipynb`` (replacing it)."""
    for name in names:
        folder = root / "source" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copy2(notebooks / f"{name}.ipynb", folder / f"{name}.ipynb")


def release(names=None, *, root: Path | str = COURSE_ROOT,
            out: Path | str | None = RELEASE_FOLDER,
            notebooks: Path | str = NOTEBOOKS) -> dict[str, Path]:
    """Generate the student version of each lesson; return ``{lesson: released notebook}``.

    The released notebooks are ``<root>/release/<lesson>/<lesson>.ipynb``; with ``out`` they
    are also copied flat to ``<out>/<lesson>.ipynb`` (what to hand out).
    """
    root, notebooks = Path(root).resolve(), Path(notebooks)
    names = _check_lessons(names, lessons(notebooks))
    prepare_source(names, root, notebooks)
    released = {}
    for name in names:
        result = nbgrader("generate_assignment", name, "--force", root=root,
                          log=root / "logs" / "release.log")
        _require_success(result, f"nbgrader generate_assignment {name}")
        released[name] = root / "release" / name / f"{name}.ipynb"
        if out is not None:
            Path(out).mkdir(parents=True, exist_ok=True)
            shutil.copy2(released[name], Path(out) / f"{name}.ipynb")
    return released


@dataclass
class Submission:
    """One student's notebook for one lesson."""
    student: str
    lesson: str
    path: Path
    flags: list = field(default_factory=list)


def find_submissions(folder: Path | str, names) -> list[Submission]:
    """Submissions in ``folder``: ``<student>/<lesson>.ipynb`` (any depth below the student).

    A student folder name is the student id. Checkpoint copies are ignored; with several
    copies of one lesson, the most recently modified one wins.
    """
    found: dict[tuple, Submission] = {}
    for student_folder in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        student = re.sub(r"[^A-Za-z0-9_.@-]", "_", student_folder.name)
        for path in student_folder.rglob("*.ipynb"):
            if ".ipynb_checkpoints" in path.parts or path.stem not in names:
                continue
            key = (student, path.stem)
            if key not in found or path.stat().st_mtime > found[key].path.stat().st_mtime:
                found[key] = Submission(student, path.stem, path)
    return sorted(found.values(), key=lambda s: (s.lesson, s.student))


def _copy_submission(submission: Submission, root: Path) -> None:
    folder = root / "submitted" / submission.student / submission.lesson
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy2(submission.path, folder / f"{submission.lesson}.ipynb")
    stamp = datetime.fromtimestamp(submission.path.stat().st_mtime, tz=timezone.utc)
    (folder / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))


def autograde(submissions: Path | str, *, root: Path | str = COURSE_ROOT,
              out: Path | str = GRADES_FOLDER, timeout: int | None = None,
              notebooks: Path | str = NOTEBOOKS) -> Path:
    """Grade every submission in ``submissions``; return the path of the grades CSV.

    Releases the lessons found (so the gradebook knows their checks), copies the submissions
    into the course folder, runs ``nbgrader autograde`` and ``generate_feedback`` per lesson
    (one failing submission does not stop the others), then writes ``<out>/grades.csv`` and
    ``<out>/feedback/<student>/<lesson>.html``. ``timeout`` overrides the per-cell limit.
    """
    root, out, notebooks = Path(root).resolve(), Path(out), Path(notebooks)
    found = find_submissions(submissions, lessons(notebooks))
    if not found:
        raise FileNotFoundError(
            f"no submissions in {submissions}: expected <student>/<lesson>.ipynb with lessons "
            f"named like {lessons(notebooks)[:2]}")
    graded_lessons = sorted({s.lesson for s in found})
    released = release(graded_lessons, root=root, out=None, notebooks=notebooks)
    for folder in ("submitted", "autograded", "feedback"):
        for name in graded_lessons:
            for old in (root / folder).glob(f"*/{name}"):
                shutil.rmtree(old)
    for submission in found:
        _copy_submission(submission, root)
        submission.flags = tamper_flags(submission.path, released[submission.lesson])
    log = root / "logs" / "autograde.log"
    for name in graded_lessons:
        nbgrader("autograde", name, "--force", root=root, timeout=timeout, log=log)
        nbgrader("generate_feedback", name, "--force", root=root, log=log)
    rows = grade_rows(found, root)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "grades.csv"
    write_csv(rows, csv_path)
    for submission in found:
        html = root / "feedback" / submission.student / submission.lesson / \
            f"{submission.lesson}.html"
        if html.exists():
            target = out / "feedback" / submission.student / f"{submission.lesson}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(html, target)
    return csv_path


def grade_rows(submissions, root: Path) -> list[dict]:
    """One dict per submission with the points of each check, read from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    if shutil.which("alembic") is None:  # the Gradebook runs `alembic` by name
        os.environ["PATH"] = _path_with_scripts()
    rows = []
    db_url = f"sqlite:///{Path(root) / 'gradebook.db'}"
    with Gradebook(db_url, course_id="image-dl") as gradebook:
        for submission in submissions:
            row = {"student": submission.student, "lesson": submission.lesson}
            flags = list(submission.flags)
            autograded = Path(root) / "autograded" / submission.student / submission.lesson
            try:
                notebook = gradebook.find_submission_notebook(
                    submission.lesson, submission.lesson, submission.student)
            except MissingEntry:
                notebook = None
            if notebook is None or not autograded.exists():
                flags.append("grading failed (see build/course/logs/autograde.log)")
                row.update(total="", max_score="")
            else:
                grades = sorted(notebook.grades, key=lambda grade: grade.cell.name)
                for grade in grades:
                    row[grade.name] = _points(grade.score)
                    if grade.needs_manual_grade:
                        flags.append(f"{grade.name} needs manual grading")
                row.update(total=_points(notebook.score), max_score=_points(notebook.max_score))
            row["flags"] = "; ".join(flags)
            rows.append(row)
    return rows


def _points(value) -> float | int:
    value = float(value or 0)
    return int(value) if value.is_integer() else round(value, 3)


def write_csv(rows: list[dict], path: Path) -> None:
    """Write rows as CSV: student, lesson, every check's points, total, max_score, flags."""
    fixed_front, fixed_back = ["student", "lesson"], ["total", "max_score", "flags"]
    checks = sorted({key for row in rows for key in row} - set(fixed_front + fixed_back))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fixed_front + checks + fixed_back,
                                restval="")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path | str) -> list[dict]:
    """Rows of a grades CSV as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- tamper flags ----------------------------------------------------------------------------

_EXEC_CALLS = {"exec", "eval", "compile", "__import__"}
_IPYTHON_HOOKS = {"input_transformers_post", "input_transformers_cleanup", "ast_transformers",
                  "register_cell_magic", "register_line_magic", "register_magic_function",
                  "set_custom_exc", "showtraceback", "run_cell"}
_RISKY_MODULES = {"builtins", "importlib", "IPython", "unittest", "ctypes", "inspect", "gc"}
_HARMLESS_MAGICS = {"matplotlib", "time", "timeit", "who", "whos", "pinfo", "pinfo2", "pwd"}


def _cells(path: Path) -> list[dict]:
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    return [cell for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def tamper_flags(submitted: Path | str, released: Path | str) -> list[str]:
    """Reasons to look at a submission by hand: code that could game the checks.

    Scans the code the student wrote (cells that differ from the released notebook) for:
    redefining a name the graded check cells use (``pixels``, ``exercises``, a ``check_*``),
    reaching for ``get_ipython`` / input transformers / IPython hooks, monkeypatching a module
    (``np.testing.assert_allclose = ...``, ``setattr``, ``unittest.mock``), ``exec`` / ``eval``,
    and magics or shell commands. A flag is not proof: it asks for a human look.
    """
    released_cells = _cells(released)
    released_sources = {_source(cell).strip() for cell in released_cells}
    check_names, student_names = set(), set()
    for cell in released_cells:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        tree = _parse(_source(cell))
        if tree is None:
            continue
        if nbgrader.get("grade") and not nbgrader.get("solution"):
            check_names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
            check_names |= {node.attr for node in ast.walk(tree)
                            if isinstance(node, ast.Attribute)}
        if nbgrader.get("solution"):
            student_names |= _bound_names(tree)
    protected = check_names - student_names
    module_names = set()
    for cell in released_cells:
        tree = _parse(_source(cell))
        if tree is not None:
            module_names |= _imported_names(tree)

    flags: list[str] = []
    submitted_cells = _cells(submitted)
    flags += _locked_cell_flags(released_cells, submitted_cells)
    for cell in submitted_cells:
        text = _source(cell)
        if text.strip() in released_sources:
            continue
        flags += _text_flags(text)
        tree = _parse(text)
        if tree is not None:
            flags += _code_flags(tree, protected, module_names | _imported_names(tree))
    return sorted(set(flags))


def _locked_cell_flags(released_cells, submitted_cells) -> list[str]:
    """Graded or locked cells that the student deleted or edited (nbgrader restores edits)."""
    flags = []
    submitted = {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"): cell
                 for cell in submitted_cells}
    for cell in released_cells:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = nbgrader.get("grade_id")
        if not grade_id or not (nbgrader.get("grade") or nbgrader.get("locked")):
            continue
        if grade_id not in submitted:
            flags.append(f"deleted graded cell {grade_id} (scored 0)")
        elif nbgrader.get("locked") and _source(submitted[grade_id]).strip() \
                != _source(cell).strip():
            flags.append(f"edited locked cell {grade_id} (restored before grading)")
    return flags


def _parse(text: str):
    """The cell as a Python AST (magics become get_ipython calls), or None if it is invalid."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        text = TransformerManager().transform_cell(text)
    except Exception:  # noqa: BLE001 - IPython missing or odd input: parse the raw text
        pass
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _bound_names(tree) -> set:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def _imported_names(tree) -> set:
    return {(alias.asname or alias.name).split(".")[0]
            for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names}


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001
        return "?"


def _text_flags(text: str) -> list[str]:
    flags = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("!"):
            flags.append("shell command")
        match = re.match(r"%{1,2}(\w+)", stripped)
        if match and match.group(1) not in _HARMLESS_MAGICS:
            flags.append(f"magic %{match.group(1)}")
    if re.search(r"\bget_ipython\b", text):
        flags.append("uses get_ipython")
    return flags


def _code_flags(tree, protected: set, module_names: set) -> list[str]:
    flags = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            name = function.id if isinstance(function, ast.Name) else (
                function.attr if isinstance(function, ast.Attribute) else None)
            if isinstance(function, ast.Name) and name in _EXEC_CALLS:
                flags.append(f"calls {name}")
            if name in ("setattr", "delattr") and isinstance(function, ast.Name):
                flags.append(f"monkeypatches with {name}")
            if name == "patch" or (isinstance(function, ast.Attribute)
                                   and _dotted(function).startswith("mock.")):
                flags.append("monkeypatches with unittest.mock")
        if isinstance(node, ast.Attribute) and (
                node.attr in _IPYTHON_HOOKS or (node.attr == "register" and isinstance(
                    node.value, ast.Attribute) and node.value.attr == "events")):
            flags.append(f"touches IPython hook {_dotted(node)}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in _RISKY_MODULES:
                    flags.append(f"imports {module}")
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for element in ast.walk(target):
                if isinstance(element, ast.Attribute) and isinstance(element.ctx,
                                                                     (ast.Store, ast.Del)):
                    root = _root_name(element)
                    if root in module_names or root in protected or root in (
                            "np", "numpy", "__builtins__"):
                        flags.append(f"monkeypatches {_dotted(element)}")
                elif isinstance(element, ast.Name) and isinstance(element.ctx, ast.Store) \
                        and element.id in protected:
                    flags.append(f"redefines {element.id} (used by a check)")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.name in protected:
            flags.append(f"redefines {node.name} (used by a check)")
        if isinstance(node, ast.alias) and (node.asname or node.name).split(".")[0] in protected:
            flags.append(f"redefines {(node.asname or node.name).split('.')[0]} "
                         f"(used by a check)")
    return flags


# --- keeping nbgrader out of the students' JupyterLab ------------------------------------

NBGRADER_SERVER_EXTENSIONS = ["nbgrader.server_extensions.formgrader",
                              "nbgrader.server_extensions.validate_assignment",
                              "nbgrader.server_extensions.assignment_list",
                              "nbgrader.server_extensions.course_list"]


def hide_nbgrader_ui() -> None:
    """Disable nbgrader's JupyterLab panels and server extensions in this environment.

    The kit installs nbgrader into the same virtual environment as the lessons (the tests
    need it), but students should see a plain JupyterLab: ``make`` runs this after installing
    the instructor packages. The setting lives in the environment (``--sys-prefix``), so it
    survives restarts; ``jupyter labextension enable @jupyter/nbgrader`` undoes it.
    """
    scripts = Path(sys.executable).parent
    jupyter = str(scripts / "jupyter") if (scripts / "jupyter").exists() else "jupyter"
    commands = [[jupyter, "labextension", "disable", "--level=sys_prefix", "@jupyter/nbgrader"]]
    commands += [[jupyter, "server", "extension", "disable", "--sys-prefix", extension]
                 for extension in NBGRADER_SERVER_EXTENSIONS]
    for command in commands:
        subprocess.run(command, check=True, capture_output=True)
    print("nbgrader's JupyterLab panels and server extensions are disabled in this environment.")


# --- command line ----------------------------------------------------------------------------

def main(argv=None) -> int:
    """``python -m lab_utils.grading release [LESSON...]``, ``autograde FOLDER``, ``hide-nbgrader``."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m lab_utils.grading",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    release_parser = commands.add_parser("release", help="write the student notebooks")
    release_parser.add_argument("lessons", nargs="*", help="default: every lesson")
    release_parser.add_argument("--out", default=str(RELEASE_FOLDER))
    grade_parser = commands.add_parser("autograde", help="grade a folder of submissions")
    grade_parser.add_argument("submissions", help="folder of <student>/<lesson>.ipynb")
    grade_parser.add_argument("--out", default=str(GRADES_FOLDER))
    grade_parser.add_argument("--timeout", type=int, default=None,
                              help="seconds per cell (default: nbgrader_config.py)")
    commands.add_parser("hide-nbgrader", help="disable nbgrader's panels in JupyterLab")
    arguments = parser.parse_args(argv)
    start = time.perf_counter()
    if arguments.command == "hide-nbgrader":
        hide_nbgrader_ui()
        return 0
    if arguments.command == "release":
        released = release(arguments.lessons or None, out=arguments.out)
        for name in released:
            print(f"released {Path(arguments.out) / (name + '.ipynb')}")
    else:
        csv_path = autograde(arguments.submissions, out=arguments.out,
                             timeout=arguments.timeout)
        rows = read_csv(csv_path)
        for row in rows:
            flags = f"   FLAGS: {row['flags']}" if row["flags"] else ""
            print(f"{row['student']:20s} {row['lesson']:16s} {row['total']:>5}"
                  f" / {row['max_score']}{flags}")
        print(f"grades: {csv_path}\nfeedback: {Path(arguments.out) / 'feedback'}")
    print(f"took {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
