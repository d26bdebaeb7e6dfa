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
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nbformat is imported when a notebook is read, not at import time
    import nbformat

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = PROJECT / "notebooks"
BUILD = PROJECT / "build"
COURSE_ROOT = BUILD / "course"
RELEASE_FOLDER = BUILD / "release"
GRADES_FOLDER = BUILD / "grades"

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TEST_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

# Environment of the grading kernels: no download attempts, no windows, quiet TensorFlow.
GRADING_ENVIRONMENT = {
    "LAB_UTILS_OFFLINE": "1",
    "MPLBACKEND": "Agg",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "PYTHONWARNINGS": "ignore",
}


def lessons(folder: Path | str = NOTEBOOKS) -> list[str]:
    """Names of the lesson notebooks (``01_pixels``, ...), in order: every ``NN_*.ipynb``."""
    return sorted(path.stem for path in Path(folder).glob("[0-9][0-9]_*.ipynb"))


def _check_lessons(names, available) -> list[str]:
    names = list(available if names is None else names)
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise ValueError(f"unknown lesson(s) {unknown}; the lessons are {available}")
    return names


def nbgrader(
    *arguments: str,
    root: Path | str = COURSE_ROOT,
    timeout: int | None = None,
    log: Path | None = None,
    environment: dict | None = None,
    limit: float | None = None,
) -> subprocess.CompletedProcess:
    """Run one ``nbgrader`` command on the course folder ``root``.

    nbgrader runs from the project folder so that ``nbgrader_config.py`` applies; ``root`` and
    ``timeout`` (seconds per cell) override that file, ``environment`` adds variables. Its log
    is appended to ``log``. After ``limit`` seconds its whole process group is killed (exit
    -9). Returns the finished process: nbgrader exits non-zero when a submission failed,
    which must not stop the batch, so the caller decides what a non-zero exit means.
    """
    command = [
        sys.executable,
        "-m",
        "nbgrader",
        *arguments,
        f"--CourseDirectory.root={Path(root).resolve()}",
    ]
    if timeout is not None:
        command.append(f"--Execute.timeout={int(timeout)}")
    env = {**os.environ, **GRADING_ENVIRONMENT, "PATH": _path_with_scripts(), **(environment or {})}
    process = subprocess.Popen(
        command,
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        stdout, stderr = process.communicate()
        stderr += f"\n[lab_utils.grading] killed after {limit} s\n"
        process.returncode = -9
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
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
        raise RuntimeError(
            f"{what} failed (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )


def prepare_source(names: list[str], root: Path, notebooks: Path = NOTEBOOKS) -> None:
    """Copy each lesson notebook to ``<root>/source/<lesson>/<lesson>.ipynb`` (replacing it)."""
    for name in names:
        folder = root / "source" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copy2(notebooks / f"{name}.ipynb", folder / f"{name}.ipynb")


def release(
    names: list[str] | None = None,
    *,
    root: Path | str = COURSE_ROOT,
    out: Path | str | None = RELEASE_FOLDER,
    notebooks: Path | str = NOTEBOOKS,
) -> dict[str, Path]:
    """Generate the student version of each lesson; return ``{lesson: released notebook}``.

    The released notebooks are ``<root>/release/<lesson>/<lesson>.ipynb``; with ``out`` they
    are also copied flat to ``<out>/<lesson>.ipynb`` (what to hand out).
    """
    root, notebooks = Path(root).resolve(), Path(notebooks)
    names = _check_lessons(names, lessons(notebooks))
    _set_aside_damaged_gradebook(root)
    prepare_source(names, root, notebooks)
    released = {}
    for name in names:
        result = nbgrader(
            "generate_assignment", name, "--force", root=root, log=root / "logs" / "release.log"
        )
        _require_success(result, f"nbgrader generate_assignment {name}")
        released[name] = root / "release" / name / f"{name}.ipynb"
        if out is not None:
            Path(out).mkdir(parents=True, exist_ok=True)
            shutil.copy2(released[name], Path(out) / f"{name}.ipynb")
    return released


def _set_aside_damaged_gradebook(root: Path) -> None:
    """Rename ``<root>/gradebook.db`` to ``gradebook.db.damaged-<time>`` if it is not SQLite."""
    import sqlite3

    path = root / "gradebook.db"
    if not path.exists():
        return
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            connection.execute("SELECT name FROM sqlite_master").fetchall()
        return
    except sqlite3.DatabaseError:
        pass
    target = path.with_name(f"gradebook.db.damaged-{int(time.time())}")
    path.rename(target)
    print(f"[grading] {path} was not a database: set aside as {target.name}", file=sys.stderr)


@dataclass
class Submission:
    """One student's notebook for one lesson (``problem`` says why it cannot be graded)."""

    student: str
    lesson: str
    path: Path
    flags: list = field(default_factory=list)
    folder: str = ""
    problem: str = ""


def student_id(folder_name: str) -> str:
    """An ASCII id for a student folder (``Zoë`` -> ``Zoe``, ``bob smith`` -> ``bob_smith``)."""
    text = unicodedata.normalize("NFKD", folder_name)
    text = text.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", text).strip(".") or "student"


def _lesson_of(path: Path, names) -> tuple[str | None, str]:
    """(lesson, flag) for a notebook file name: exact, else by its two-digit number."""
    if path.stem in names:
        return path.stem, ""
    number = re.match(r"(\d\d)[ _-]", unicodedata.normalize("NFC", path.stem))
    matches = [name for name in names if number and name.startswith(number.group(1) + "_")]
    if len(matches) == 1:
        return matches[0], f"graded as {matches[0]} (file named {path.name!r})"
    return None, ""


def find_submissions(folder: Path | str, names: list[str]) -> list[Submission]:
    """Submissions in ``folder``: ``<student>/<lesson>.ipynb`` (any depth below the student).

    The student id is the folder name in ASCII (:func:`student_id`); two folders that give the
    same id (``Zoë``, ``Zoé``) both get a unique suffix and a flag. A file is matched to a
    lesson by its name, else by its number (``01_pixels (1).ipynb``, ``01_pïxels.ipynb`` ->
    ``01_pixels``, flagged). With several copies of one lesson the most recently modified one
    is graded and the others are named in its flags. Every other notebook comes back too, with
    ``problem`` set (a row in the CSV, never dropped silently); checkpoint copies are ignored.
    """
    folders = sorted(p for p in Path(folder).iterdir() if p.is_dir())
    ids: dict[str, list[Path]] = {}
    for student_folder in folders:
        ids.setdefault(student_id(student_folder.name), []).append(student_folder)
    found: dict[tuple, Submission] = {}
    others: list[Submission] = []
    for base, group in ids.items():
        for student_folder in group:
            flags = []
            student = base
            if len(group) > 1:
                digest = hashlib.sha1(student_folder.name.encode("utf-8", "surrogateescape"))
                student = f"{base}-{digest.hexdigest()[:6]}"
                flags.append(
                    f"student id {student} for folder {student_folder.name!r} "
                    f"(folders {sorted(p.name for p in group)} share the id {base})"
                )
            copies: dict[str, list[tuple[Path, str]]] = {}
            for path in sorted(student_folder.rglob("*.ipynb")):
                if ".ipynb_checkpoints" in path.parts:
                    continue
                lesson, how = _lesson_of(path, names)
                if lesson is None:
                    others.append(
                        Submission(
                            student,
                            path.stem,
                            path,
                            list(flags),
                            student_folder.name,
                            f"not graded: {path.name!r} is not a lesson notebook "
                            f"(expected names like {sorted(names)[:2]})",
                        )
                    )
                    continue
                copies.setdefault(lesson, []).append((path, how))
            for lesson, paths in copies.items():

                def modified(item):
                    try:
                        return item[0].lstat().st_mtime
                    except OSError:
                        return 0.0

                paths.sort(key=modified, reverse=True)
                (path, how), older = paths[0], paths[1:]
                extra = [how] if how else []
                if older:
                    extra.append(
                        "also submitted, older, not graded: "
                        + ", ".join(str(p.relative_to(student_folder)) for p, _ in older)
                    )
                found[(student, lesson)] = Submission(
                    student, lesson, path, flags + extra, student_folder.name
                )
    return sorted([*found.values(), *others], key=lambda s: (s.lesson, s.student, str(s.path)))


MAX_NOTEBOOK_BYTES = 100_000_000


def read_submission(
    submission: Submission, students_folder: Path | None = None
) -> nbformat.NotebookNode:
    """The submission as an nbformat notebook, or raise ValueError saying why it is unusable.

    Symbolic links are resolved: a link to a file outside the student's own folder (the
    instructor's notebook, another student's work) is refused.
    """
    import nbformat

    path = Path(submission.path)
    real = path.resolve()
    if students_folder is not None:
        if Path(students_folder).is_symlink():
            raise ValueError(
                f"the student folder {Path(students_folder).name!r} is a symbolic link; not graded"
            )
        own = Path(students_folder).resolve()
        if path.is_symlink() or real != path.absolute():
            if own not in real.parents:
                raise ValueError(
                    f"{path.name} is a symbolic link to a file outside the "
                    f"student's folder ({real}); not graded"
                )
    if not real.is_file():
        raise ValueError(f"{path.name} is not a regular file")
    size = real.stat().st_size
    if size == 0:
        raise ValueError(f"{path.name} is empty")
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"{path.name} is {size:,} bytes (more than {MAX_NOTEBOOK_BYTES:,})")
    try:
        text = real.read_text(encoding="utf-8")
        notebook = nbformat.reads(text, as_version=4)
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not text (not a notebook)") from None
    except Exception as error:  # noqa: BLE001 - JSON errors, nbformat's own, ...
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise ValueError(f"{path.name} is not a valid notebook ({reason})") from None
    if not isinstance(notebook.get("cells"), list):
        raise ValueError(f"{path.name} has no cells")
    return notebook


def repair_duplicate_ids(notebook: nbformat.NotebookNode) -> list[str]:
    """Keep one cell per nbgrader ``grade_id`` (the last, as nbgrader does); return flags.

    A copy-pasted graded cell in JupyterLab duplicates its id. The earlier copies become plain
    cells, in the throw-away copy that is graded.
    """
    seen, flags = set(), []
    for cell in reversed(notebook.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if not grade_id:
            continue
        if grade_id in seen:
            del cell["metadata"]["nbgrader"]
            flags.append(
                f"duplicate cell id {grade_id} (a copied graded cell): only the last copy is graded"
            )
        seen.add(grade_id)
    return sorted(set(flags))


def _copy_submission(notebook, submission: Submission, root: Path) -> None:
    import nbformat

    folder = root / "submitted" / submission.student / submission.lesson
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    nbformat.write(notebook, str(folder / f"{submission.lesson}.ipynb"))
    try:
        modified = Path(submission.path).resolve().stat().st_mtime
    except OSError:
        modified = time.time()
    stamp = datetime.fromtimestamp(modified, tz=timezone.utc)
    (folder / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))


def graded_folder(root: Path | str, lesson: str, student: str) -> Path:
    """The throw-away course folder in which one submission was graded (its own gradebook)."""
    return Path(root) / "graded" / lesson / student


def gradebook_path(root: Path | str, lesson: str, student: str) -> Path:
    """The gradebook database of one graded submission (inside its ``graded_folder``)."""
    return graded_folder(root, lesson, student) / "gradebook.db"


def _sandbox_config(folder: Path, runtime: Path, memory: int | None) -> Path:
    """The kernel sandbox's JSON description: what a grading kernel may see."""
    from lab_utils import data

    read_only = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        str(Path(sys.executable).resolve().parent.parent),
        str(PROJECT / "lab_utils"),
        str(PROJECT / "data"),
    }
    cache = data.cache_dir()
    config = {
        "scratch": str(folder / "sandbox"),
        "read_only": sorted(read_only),
        "overlay": [str(cache)] if cache.is_dir() else [],
        "writable": [str(runtime)],
        "memory": memory,
        "disk": 1024 * 2**20,
        # Fewer malloc arenas: TensorFlow's threads otherwise reserve gigabytes of
        # address space they never use, which the memory limit would count.
        "environment": {
            **GRADING_ENVIRONMENT,
            "LAB_UTILS_CACHE": str(cache),
            "MALLOC_ARENA_MAX": "2",
            "JUPYTER_RUNTIME_DIR": str(runtime),
        },
    }
    path = folder / "sandbox.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def grade_submission(
    submission: Submission,
    template: Path,
    root: Path,
    *,
    released: Path,
    students_folder: Path | None = None,
    timeout: int | None = None,
    notebook_timeout: int = 900,
    memory: int | None = 4_000_000_000,
    isolation: bool = True,
) -> dict:
    """Grade one submission in its own throw-away course folder; return its CSV row.

    The folder (:func:`graded_folder`) receives a copy of the lesson's freshly released
    gradebook and of the submission only. With ``isolation`` the kernel runs in
    :mod:`lab_utils.sandbox`, which shows it neither this folder nor anything else of the
    course, and whose processes all die with it. nbgrader itself stops after ``notebook_timeout``
    seconds plus a margin. Scores are read from the gradebook and recomputed from the executed
    notebook's outputs; a difference is flagged.
    """
    row = {"student": submission.student, "lesson": submission.lesson}
    flags = list(submission.flags)
    folder = graded_folder(root, submission.lesson, submission.student)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    def failed(reason):
        row.update(total=0, max_score="", flags="; ".join(flags + [reason]))
        return row

    try:
        notebook = read_submission(submission, students_folder)
    except (ValueError, OSError) as error:
        return failed(f"not graded: {error}")
    flags += _submission_flags(notebook, released)
    shutil.copy2(template / "gradebook.db", folder / "gradebook.db")
    _copy_submission(notebook, submission, folder)
    environment, runtime = _kernel_environment(folder, timeout, notebook_timeout, memory, isolation)
    if runtime is None:
        flags.append("graded without isolation")
    log = root / "logs" / "autograde.log"
    try:
        result = nbgrader(
            "autograde",
            submission.lesson,
            "--force",
            root=folder,
            timeout=timeout,
            log=log,
            environment=environment,
            limit=notebook_timeout + 180,
        )
        if result.returncode == -9:
            flags.append(f"stopped: grading took longer than {notebook_timeout + 180} s")
        nbgrader(
            "generate_feedback",
            submission.lesson,
            "--force",
            root=folder,
            log=log,
            environment=environment,
            limit=600,
        )
    finally:
        if runtime is not None:
            shutil.rmtree(runtime, ignore_errors=True)
        shutil.rmtree(folder / "sandbox", ignore_errors=True)
    try:
        scores, max_score, more = read_scores(folder, submission.lesson, submission.student)
    except Exception as error:  # noqa: BLE001 - a broken gradebook is one failed row
        return failed(f"grading failed ({type(error).__name__}: {str(error)[:200]}; see {log})")
    row.update(scores)
    row.update(total=_points(sum(scores.values())), max_score=_points(max_score))
    row["flags"] = "; ".join(flags + more)
    return row


def _submission_flags(notebook: dict, released: Path) -> list[str]:
    """Duplicate ids repaired, instructor markers and tampering: reasons for a human look."""
    flags = repair_duplicate_ids(notebook)
    text = json.dumps(notebook)
    if any(marker in text for marker in SOLUTION_MARKERS + HIDDEN_TEST_MARKERS):
        flags.append("contains the instructor's solution or hidden-test markers")
    try:
        flags += tamper_flags(notebook, released)
    except Exception as error:  # noqa: BLE001 - never stop the batch over a flag
        flags.append(f"tamper scan failed ({type(error).__name__})")
    return flags


def _kernel_environment(
    folder: Path, timeout: int | None, notebook_timeout: int, memory: int | None, isolation: bool
) -> tuple[dict, Path | None]:
    """nbgrader's environment for one submission, and the sandbox's runtime folder (None
    without isolation): the kernelspec that starts the kernel in :mod:`lab_utils.sandbox`."""
    from lab_utils import sandbox

    environment = {
        "TMPDIR": str(folder / "tmp"),  # (the runtime folder under isolation)
        "LAB_UTILS_NOTEBOOK_TIMEOUT": str(int(notebook_timeout)),
    }
    (folder / "tmp").mkdir()
    if timeout is not None:
        environment["LAB_UTILS_CELL_TIMEOUT"] = str(int(timeout))
    if not isolation:
        return environment, None
    runtime = Path(tempfile.mkdtemp(prefix="lu-"))  # short: Unix socket paths < 108
    config = _sandbox_config(folder, runtime, memory)
    sandbox.write_kernelspec(folder / "jupyter", config)
    # jupyter_client writes the kernel's connection file to TMPDIR: the kernel sees
    # only this folder of the grader's.
    environment.update(
        {
            "LAB_UTILS_GRADING_SANDBOX": "1",
            "JUPYTER_PATH": str(folder / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "TMPDIR": str(runtime),
        }
    )
    return environment, runtime


def read_scores(folder: Path, lesson: str, student: str) -> tuple[dict, float, list]:
    """({check: points}, max score, flags) of one graded submission.

    The points are recomputed from the executed notebook's outputs (nbgrader's rule: a check
    cell with an error scores 0) and compared with the gradebook; any difference, or a manual
    score nobody gave, is flagged and the recomputed points are kept.
    """
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import determine_grade

    if shutil.which("alembic") is None:  # the Gradebook runs `alembic` by name
        os.environ["PATH"] = _path_with_scripts()
    executed = folder / "autograded" / student / lesson / f"{lesson}.ipynb"
    if not executed.exists():
        raise FileNotFoundError("nbgrader wrote no graded notebook")
    notebook = nbformat.read(str(executed), as_version=4)
    recomputed = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and meta.get("grade_id"):
            score, _ = determine_grade(cell)
            recomputed[meta["grade_id"]] = float(score or 0)
    flags = []
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}", course_id="image-dl") as gradebook:
        try:
            stored = gradebook.find_submission_notebook(lesson, lesson, student)
        except MissingEntry:
            raise LookupError("no submission in the gradebook") from None
        max_score = float(stored.max_score)
        for grade in stored.grades:
            if grade.cell.name not in recomputed and grade.cell.name.startswith("check"):
                recomputed[grade.cell.name] = 0.0  # a deleted check cell
            if grade.manual_score is not None:
                flags.append(f"gradebook changed: manual score on {grade.name}")
            elif (
                grade.name in recomputed and float(grade.auto_score or 0) != recomputed[grade.name]
            ):
                flags.append(
                    f"gradebook changed: {grade.name} says {grade.auto_score}, "
                    f"the notebook {recomputed[grade.name]} (kept)"
                )
            if grade.needs_manual_grade and grade.cell.name not in recomputed:
                flags.append(f"{grade.name} needs manual grading")
        known = {grade.name for grade in stored.grades}
    return (
        {name: _points(value) for name, value in sorted(recomputed.items()) if name in known},
        max_score,
        flags,
    )


def autograde(
    submissions: Path | str,
    *,
    root: Path | str = COURSE_ROOT,
    out: Path | str = GRADES_FOLDER,
    timeout: int | None = None,
    notebooks: Path | str = NOTEBOOKS,
    notebook_timeout: int = 900,
    memory: int | None = 4_000_000_000,
    isolation: bool = True,
) -> Path:
    """Grade every submission in ``submissions``; return the path of the grades CSV.

    Releases the lessons found into a fresh template course (so no old or damaged gradebook is
    reused), then grades each submission on its own (:func:`grade_submission`): one broken,
    hostile or slow submission costs only its own row. Writes ``<out>/grades.csv`` (a row for
    every notebook found, graded or not, with flags saying why) and
    ``<out>/feedback/<student>/<lesson>.html``. ``timeout``: seconds per cell (default
    ``nbgrader_config.py``); ``notebook_timeout``: seconds per notebook; ``memory``: bytes of
    address space per grading kernel; ``isolation=False`` grades without the sandbox (trusted
    code only; every row is flagged).
    """
    from lab_utils import sandbox

    root, out, notebooks = Path(root).resolve(), Path(out), Path(notebooks)
    found = find_submissions(submissions, lessons(notebooks))
    if not found:
        raise FileNotFoundError(
            f"no submissions in {submissions}: expected <student>/<lesson>.ipynb with lessons "
            f"named like {lessons(notebooks)[:2]}"
        )
    if isolation:
        reason = sandbox.available()
        if reason:
            raise RuntimeError(
                f"cannot isolate the grading kernels: {reason}. Grade in a "
                "container or VM, or pass --no-isolation (trusted code only)."
            )
    graded_lessons = sorted({s.lesson for s in found if not s.problem})
    template = root / "template"
    if template.exists():
        shutil.rmtree(template)
    released = (
        release(graded_lessons, root=template, out=None, notebooks=notebooks)
        if graded_lessons
        else {}
    )
    for name in graded_lessons:
        if (root / "graded" / name).exists():
            shutil.rmtree(root / "graded" / name)
    rows = []
    for submission in found:
        if submission.problem:
            rows.append(
                {
                    "student": submission.student,
                    "lesson": submission.lesson,
                    "total": "",
                    "max_score": "",
                    "flags": "; ".join(submission.flags + [submission.problem]),
                }
            )
            continue
        rows.append(
            grade_submission(
                submission,
                template,
                root,
                released=released[submission.lesson],
                students_folder=Path(submissions) / submission.folder,
                timeout=timeout,
                notebook_timeout=notebook_timeout,
                memory=memory,
                isolation=isolation,
            )
        )
    verify_scores(rows, root)
    out.mkdir(parents=True, exist_ok=True)
    _collect_feedback(rows, root, out / "feedback")
    csv_path = out / "grades.csv"
    write_csv(rows, csv_path)
    return csv_path


def _collect_feedback(rows: list[dict], root: Path, feedback: Path) -> None:
    """Copy each graded submission's feedback page to ``feedback/<student>/<lesson>.html``."""
    for row in rows:
        html = (
            graded_folder(root, row["lesson"], row["student"])
            / "feedback"
            / row["student"]
            / row["lesson"]
            / f"{row['lesson']}.html"
        )
        if html.exists():
            target = feedback / row["student"] / f"{row['lesson']}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(html, target)


def verify_scores(rows: list[dict], root: Path) -> None:
    """After the batch: read every submission's gradebook again and flag any change since."""
    for row in rows:
        folder = graded_folder(root, row["lesson"], row["student"])
        if not (folder / "gradebook.db").exists() or row.get("max_score") in ("", None):
            continue
        try:
            scores, _, more = read_scores(folder, row["lesson"], row["student"])
        except Exception as error:  # noqa: BLE001
            more, scores = [f"gradebook unreadable after the batch ({type(error).__name__})"], {}
        changed = [name for name, value in scores.items() if str(row.get(name)) != str(value)]
        if changed:
            more.append(f"scores changed after grading: {changed}")
        new = [flag for flag in more if flag not in row["flags"]]
        if new:
            row["flags"] = "; ".join(filter(None, [row["flags"], *new]))


def _points(value) -> float | int:
    value = float(value or 0)
    return int(value) if value.is_integer() else round(value, 3)


def write_csv(rows: list[dict], path: Path) -> None:
    """Write rows as CSV: student, lesson, every check's points, total, max_score, flags."""
    fixed_front, fixed_back = ["student", "lesson"], ["total", "max_score", "flags"]
    checks = sorted({key for row in rows for key in row} - set(fixed_front + fixed_back))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fixed_front + checks + fixed_back, restval="")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path | str) -> list[dict]:
    """Rows of a grades CSV as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- tamper flags ----------------------------------------------------------------------------

_EXEC_CALLS = {"exec", "eval", "compile", "__import__"}
_IPYTHON_HOOKS = {
    "input_transformers_post",
    "input_transformers_cleanup",
    "ast_transformers",
    "register_cell_magic",
    "register_line_magic",
    "register_magic_function",
    "set_custom_exc",
    "showtraceback",
    "run_cell",
}
_RISKY_MODULES = {
    "builtins",
    "importlib",
    "IPython",
    "unittest",
    "ctypes",
    "inspect",
    "gc",
    "traceback",
    "types",
    "threading",
    "multiprocessing",
    "subprocess",
    "os",
    "signal",
    "atexit",
    "socket",
    "sqlite3",
    "pickle",
    "marshal",
}
_HARMLESS_MAGICS = {"matplotlib", "time", "timeit", "who", "whos", "pinfo", "pinfo2", "pwd"}


def _cells(notebook) -> list[dict]:
    if not isinstance(notebook, dict):
        notebook = json.loads(Path(notebook).read_text(encoding="utf-8"))
    return [cell for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def tamper_flags(submitted: dict | Path | str, released: dict | Path | str) -> list[str]:
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
            check_names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
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
    submitted = {
        cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"): cell
        for cell in submitted_cells
    }
    for cell in released_cells:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = nbgrader.get("grade_id")
        if not grade_id or not (nbgrader.get("grade") or nbgrader.get("locked")):
            continue
        if grade_id not in submitted:
            flags.append(f"deleted graded cell {grade_id} (scored 0)")
        elif (
            nbgrader.get("locked") and _source(submitted[grade_id]).strip() != _source(cell).strip()
        ):
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
    return {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }


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


_FRAME_ATTRIBUTES = {
    "f_back",
    "f_locals",
    "f_globals",
    "tb_frame",
    "gi_frame",
    "cr_frame",
    "_getframe",
    "currentframe",
}
_VALUE_BASES = {
    "ndarray",
    "float",
    "int",
    "complex",
    "str",
    "list",
    "tuple",
    "dict",
    "bool",
    "float64",
    "Number",
    "Real",
}


def _reach_flags(node) -> list[str]:
    """Ways to reach the checks without their names: module dicts, frames, fake values."""
    flags = []
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "vars" and node.args:
            flags.append("uses vars() on an object")
        elif node.func.id in ("globals", "locals"):
            flags.append(f"uses {node.func.id}()")
        elif (
            node.func.id in ("getattr", "hasattr")
            and len(node.args) > 1
            and not isinstance(node.args[1], ast.Constant)
        ):
            flags.append("getattr with a computed name")
    if isinstance(node, ast.Attribute):
        if node.attr in ("modules", "meta_path", "path_hooks") and _root_name(node) == "sys":
            flags.append(f"touches sys.{node.attr}")
        elif node.attr in (
            "__dict__",
            "__globals__",
            "__code__",
            "__class__",
            "__subclasses__",
            "__builtins__",
            "__closure__",
        ):
            flags.append(f"touches {node.attr}")
        elif node.attr in _FRAME_ATTRIBUTES:
            flags.append(f"reads interpreter frames ({node.attr})")
    if isinstance(node, ast.ClassDef):
        for base in node.bases:
            name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
            if name in _VALUE_BASES:
                flags.append(f"subclasses {name} (a value that could fool a comparison)")
    return flags


def _code_flags(tree, protected: set, module_names: set) -> list[str]:
    flags = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            name = (
                function.id
                if isinstance(function, ast.Name)
                else (function.attr if isinstance(function, ast.Attribute) else None)
            )
            if isinstance(function, ast.Name) and name in _EXEC_CALLS:
                flags.append(f"calls {name}")
            if name in ("setattr", "delattr") and isinstance(function, ast.Name):
                flags.append(f"monkeypatches with {name}")
            if name == "patch" or (
                isinstance(function, ast.Attribute) and _dotted(function).startswith("mock.")
            ):
                flags.append("monkeypatches with unittest.mock")
        if isinstance(node, ast.Attribute) and (
            node.attr in _IPYTHON_HOOKS
            or (
                node.attr == "register"
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "events"
            )
        ):
            flags.append(f"touches IPython hook {_dotted(node)}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
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
                if isinstance(element, ast.Attribute) and isinstance(
                    element.ctx, (ast.Store, ast.Del)
                ):
                    root = _root_name(element)
                    if (
                        root in module_names
                        or root in protected
                        or root in ("np", "numpy", "__builtins__")
                    ):
                        flags.append(f"monkeypatches {_dotted(element)}")
                elif (
                    isinstance(element, ast.Name)
                    and isinstance(element.ctx, ast.Store)
                    and element.id in protected
                ):
                    flags.append(f"redefines {element.id} (used by a check)")
        flags += _reach_flags(node)
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name in protected
        ):
            flags.append(f"redefines {node.name} (used by a check)")
        if isinstance(node, ast.alias) and (node.asname or node.name).split(".")[0] in protected:
            flags.append(f"redefines {(node.asname or node.name).split('.')[0]} (used by a check)")
    return flags


# --- keeping nbgrader out of the students' JupyterLab ------------------------------------

NBGRADER_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
]


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
    commands += [
        [jupyter, "server", "extension", "disable", "--sys-prefix", extension]
        for extension in NBGRADER_SERVER_EXTENSIONS
    ]
    for command in commands:
        subprocess.run(command, check=True, capture_output=True)
    print("nbgrader's JupyterLab panels and server extensions are disabled in this environment.")


# --- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m lab_utils.grading release [LESSON...]``, ``autograde FOLDER``, ``hide-nbgrader``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m lab_utils.grading", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    release_parser = commands.add_parser("release", help="write the student notebooks")
    release_parser.add_argument("lessons", nargs="*", help="default: every lesson")
    release_parser.add_argument("--out", default=str(RELEASE_FOLDER))
    grade_parser = commands.add_parser("autograde", help="grade a folder of submissions")
    grade_parser.add_argument("submissions", help="folder of <student>/<lesson>.ipynb")
    grade_parser.add_argument("--out", default=str(GRADES_FOLDER))
    grade_parser.add_argument(
        "--timeout", type=int, default=None, help="seconds per cell (default: nbgrader_config.py)"
    )
    grade_parser.add_argument(
        "--notebook-timeout", type=int, default=900, help="seconds per notebook (default 900)"
    )
    grade_parser.add_argument(
        "--memory",
        type=int,
        default=4_000_000_000,
        help="bytes of address space per grading kernel (default 4e9)",
    )
    grade_parser.add_argument(
        "--no-isolation",
        action="store_true",
        help="run kernels without the sandbox (trusted code only)",
    )
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
        csv_path = autograde(
            arguments.submissions,
            out=arguments.out,
            timeout=arguments.timeout,
            notebook_timeout=arguments.notebook_timeout,
            memory=arguments.memory or None,
            isolation=not arguments.no_isolation,
        )
        rows = read_csv(csv_path)
        for row in rows:
            flags = f"   FLAGS: {row['flags']}" if row["flags"] else ""
            print(
                f"{row['student']:20s} {row['lesson']:16s} {row['total']:>5}"
                f" / {row['max_score']}{flags}"
            )
        print(f"grades: {csv_path}\nfeedback: {Path(arguments.out) / 'feedback'}")
    print(f"took {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
