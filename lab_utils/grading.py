"""Release and autograde the lessons with nbgrader (instructors only).

The instructor notebooks in ``notebooks/`` are the single source. This module

* copies them into a generated nbgrader course folder (``build/course``, git-ignored) and runs
  ``nbgrader generate_assignment``: the student versions (solutions replaced by
  ``raise NotImplementedError()``, hidden tests removed, outputs cleared) land in
  ``build/release/<lesson>.ipynb`` (:func:`release`, ``make release``);
* grades a folder of submissions (``<folder>/<student>/<lesson>.ipynb``) with
  ``nbgrader autograde``, saving each row the moment it is decided (a stopped batch resumes),
  and writes ``grades.csv`` (student, folder, lesson, points per check, total, tamper flags) and
  ``feedback/<student>/<lesson>.html`` (:mod:`lab_utils.feedback`: small, sanitised pages)
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
import io
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

from lab_utils import resources

if TYPE_CHECKING:  # nbformat is imported when a notebook is read, not at import time
    import nbformat

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = resources.kit_folder("lessons")  # notebooks/, or the installed kit's lessons
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
    result = run_group(command, cwd=PROJECT, env=env, limit=limit)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(command[2:])}\n{result.stdout}{result.stderr}\n")
    return result


def _parent_death_signal():
    """A function for ``preexec_fn``: the child is killed when the grader dies (Linux only:
    ``prctl(PR_SET_PDEATHSIG, SIGKILL)``), or None. Prepared before the fork."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, 9)


def run_group(
    command: list[str],
    *,
    cwd: Path | None = None,
    env: dict | None = None,
    limit: float | None = None,
) -> subprocess.CompletedProcess:
    """Run ``command`` in its own process group and collect its output.

    After ``limit`` seconds the whole group is killed (exit -9). If the grader is stopped
    while waiting (Ctrl-C, ``SIGTERM`` turned into ``KeyboardInterrupt`` by :func:`main`), the
    group is killed before the exception goes on, and on Linux the child also dies with the
    grader itself (``PR_SET_PDEATHSIG``), so no nbgrader or kernel outlives a stopped batch.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_parent_death_signal(),
    )
    try:
        stdout, stderr = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, stderr = process.communicate()
        stderr += f"\n[lab_utils.grading] killed after {limit} s\n"
        process.returncode = -9
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass


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


_PLAIN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
ID_SEPARATOR = "+"  # only in generated ids: a plain id never contains it


def student_id(folder_name: str) -> str:
    """The student id of a submission folder; two different folder names never share one.

    A plain ASCII name (letters, digits, ``_ . @ -``, at most 64, not starting with ``.`` or
    ``-``) is its own id. Any other name gets an ASCII slug, ``+`` and 8 hex digits of the
    SHA-256 of the exact name: ``Zoë`` -> ``Zoe+…``, ``Zoé`` -> ``Zoe+…`` (another hash),
    ``bob smith`` -> ``bob_smith+…``. ``+`` never appears in a plain id, so the two kinds
    cannot coincide; :func:`find_submissions` still refuses a batch where two folders share
    an id (a hash collision).
    """
    if _PLAIN_ID.fullmatch(folder_name):
        return folder_name
    text = unicodedata.normalize("NFKD", folder_name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9_.@-]", "_", text).strip("._-")[:40] or "student"
    digest = hashlib.sha256(folder_name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{slug}{ID_SEPARATOR}{digest}"


def student_ids(folders: list[Path]) -> dict[str, Path]:
    """``{student id: folder}``; a ValueError names any two folders that would share an id."""
    ids: dict[str, Path] = {}
    for folder in folders:
        student = student_id(folder.name)
        if student in ids:
            raise ValueError(
                f"the folders {ids[student].name!r} and {folder.name!r} would share the student "
                f"id {student!r}: rename one of them (nothing was graded)"
            )
        ids[student] = folder
    return ids


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

    The student id comes from the folder name (:func:`student_id`: ASCII, never shared by two
    folders; a ValueError before anything is graded otherwise). A file is matched to a lesson
    by its name, else by its number (``01_pixels (1).ipynb``, ``01_pïxels.ipynb`` ->
    ``01_pixels``, flagged). With several copies of one lesson the most recently modified one
    is graded and the others are named in its flags. Every other notebook comes back too, with
    ``problem`` set (a row in the CSV, never dropped silently); checkpoint copies are ignored.
    """
    ids = student_ids(sorted(p for p in Path(folder).iterdir() if p.is_dir()))
    found: list[Submission] = []
    for student, student_folder in ids.items():
        copies: dict[str, list[tuple[Path, str]]] = {}
        for path in sorted(student_folder.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            lesson, how = _lesson_of(path, names)
            if lesson is None:
                problem = (
                    f"not graded: {path.name!r} is not a lesson notebook "
                    f"(expected names like {sorted(names)[:2]})"
                )
                found.append(Submission(student, path.stem, path, [], student_folder.name, problem))
                continue
            copies.setdefault(lesson, []).append((path, how))
        for lesson, paths in copies.items():
            paths.sort(key=lambda item: _modified(item[0]), reverse=True)
            (path, how), older = paths[0], paths[1:]
            flags = [how] if how else []
            if older:
                flags.append(
                    "also submitted, older, not graded: "
                    + ", ".join(str(p.relative_to(student_folder)) for p, _ in older)
                )
            found.append(Submission(student, lesson, path, flags, student_folder.name))
    return sorted(found, key=lambda s: (s.lesson, s.student, str(s.path)))


def _modified(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


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


MAX_CELL_CHARACTERS = 1_000_000


def cap_cells(notebook: nbformat.NotebookNode, limit: int = MAX_CELL_CHARACTERS) -> list[str]:
    """Cut every cell's source to ``limit`` characters and drop oversized attachments; flags.

    A 50 MB markdown cell would otherwise be scanned, executed and shown in full. The cut
    happens in the throw-away copy that is graded; each cut is flagged.
    """
    flags = []
    for index, cell in enumerate(notebook.cells):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if len(source) > limit:
            cell["source"] = source[:limit]
            flags.append(
                f"cell {index + 1} ({cell.get('cell_type', '?')}) has {len(source):,} characters: "
                f"cut to the first {limit:,} before grading"
            )
        attachments = cell.get("attachments")
        if attachments and len(json.dumps(attachments, default=str)) > limit:
            del cell["attachments"]
            flags.append(f"cell {index + 1}: attachments over {limit:,} characters removed")
    return flags


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
        str(resources.kit_folder("bundled")),
    }
    cache = data.cache_dir()
    shared = data.shared_dir()  # the class's trained weights and data: read, never written
    if shared is not None:
        read_only.add(str(shared.resolve()))
    config = {
        "scratch": str(folder / "sandbox"),
        "read_only": sorted(read_only),
        "overlay": [str(cache)] if cache.is_dir() else [],
        # A private copy of the connection file; the kernel's sockets are linked back.
        "runtime": str(runtime),
        # Bytes per process (address space) and for the whole kernel (cgroup or watchdog).
        "memory": memory,
        "disk": 1024 * 2**20,
        "processes": 256,  # processes and threads: hence the thread pools' caps below
        # Fewer malloc arenas: TensorFlow's threads otherwise reserve gigabytes of
        # address space they never use, which the memory limit would count.
        "environment": {
            **GRADING_ENVIRONMENT,
            "LAB_UTILS_CACHE": str(cache),
            **({"LAB_UTILS_SHARED": str(shared.resolve())} if shared is not None else {}),
            "MALLOC_ARENA_MAX": "2",
            "JUPYTER_RUNTIME_DIR": str(runtime),
            **dict.fromkeys(
                ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"),
                str(min(os.cpu_count() or 1, 16)),
            ),
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
    """Grade one submission in its own throw-away folder; return its CSV row.

    The student's cells run in a kernel of their own (with ``isolation``, inside
    :mod:`lab_utils.sandbox`: it sees none of the course's files, no network, and all its
    processes die with it); every graded check is decided in this process by
    :mod:`lab_utils.trusted`, which calls the student's functions in that kernel and compares
    their answers with its own. ``timeout`` caps each cell (default ``CELL_TIMEOUT``),
    ``notebook_timeout`` the whole notebook: the submission's time budget. The executed
    notebook (:func:`executed_notebook`) is what the feedback page shows.
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
    _copy_submission(notebook, submission, folder)
    environment, runtime = _kernel_environment(folder, timeout, notebook_timeout, memory, isolation)
    if runtime is None:
        flags.append("graded without isolation")
    work = folder / "submitted" / submission.student / submission.lesson
    try:
        outcome = _run_trusted(
            json.loads(json.dumps(notebook)),
            released,
            folder,
            work,
            environment,
            runtime,
            cell_timeout=timeout or CELL_TIMEOUT,
            notebook_timeout=notebook_timeout,
        )
    except Exception as error:  # noqa: BLE001 - a kernel that cannot start is one failed row
        return failed(f"grading failed ({type(error).__name__}: {str(error)[:200]})")
    finally:
        if runtime is not None:
            shutil.rmtree(runtime, ignore_errors=True)
        shutil.rmtree(folder / "sandbox", ignore_errors=True)
    executed = executed_notebook(root, submission.lesson, submission.student)
    executed.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(executed, json.dumps(outcome.notebook, default=str))
    row.update({name: _points(points) for name, points in sorted(outcome.scores.items())})
    row.update(total=_points(sum(outcome.scores.values())), max_score=_points(outcome.max_score))
    row["flags"] = "; ".join(flags + outcome.flags)
    return row


#: Seconds one cell may run when grading (training cells are slow on small machines).
CELL_TIMEOUT = 300


def _run_trusted(
    notebook: dict,
    released: Path,
    folder: Path,
    work: Path,
    environment: dict,
    runtime: Path | None,
    *,
    cell_timeout: float,
    notebook_timeout: float,
) -> object:
    """Start the submission's kernel (sandboxed when ``runtime`` is given) and let
    :func:`lab_utils.trusted.run_submission` run the cells and decide the checks."""
    from lab_utils import sandbox, trusted

    options = {"env": {**os.environ, **environment}, "cwd": str(work)}
    if runtime is not None:
        kernel = trusted.Kernel.start(
            sandbox.KERNEL_NAME,
            kernel_dirs=[folder / "jupyter" / "kernels"],
            transport="ipc",
            ip=str(runtime / "kernel"),
            connection_file=str(runtime / "kernel.json"),
            **options,
        )
    else:
        kernel = trusted.Kernel.start("python3", **options)
    try:
        released_notebook = json.loads(Path(released).read_text(encoding="utf-8"))
        return trusted.run_submission(
            notebook,
            released_notebook,
            kernel,
            cell_timeout=cell_timeout,
            notebook_timeout=notebook_timeout,
        )
    finally:
        kernel.shutdown()


def _submission_flags(notebook: dict, released: Path) -> list[str]:
    """Duplicate ids repaired, instructor markers and tampering: reasons for a human look."""
    flags = cap_cells(notebook) + repair_duplicate_ids(notebook)
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
    # jupyter_client writes the kernel's connection file to TMPDIR, the runtime folder; the kernel
    # gets a private copy of it (and nothing else of the grader's environment than
    # lab_utils.sandbox's allow-list and the config's "environment").
    environment.update(
        {
            "LAB_UTILS_GRADING_SANDBOX": "1",
            "JUPYTER_PATH": str(folder / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "TMPDIR": str(runtime),
        }
    )
    return environment, runtime


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
    regrade: bool = False,
    prepare: bool = True,
    shard: tuple[int, int] | None = None,
) -> Path:
    """Grade every submission in ``submissions``; return the path of the grades CSV.

    ``shard=(i, N)`` grades only the students of shard i of N (:func:`in_shard`), so N
    machines of a scheduler grade a class in parallel; :func:`merge_shards` joins their
    ``out`` folders (each shard needs its own ``out`` and ``root``).

    With ``prepare`` (the default), each lesson to grade is first run once as the instructor
    wrote it and once with its exercises unsolved (:func:`lab_utils.prepare.prepare_once`,
    skipped when already done for this lesson and kit), so the trainings of the solutions and
    of the kit's fallbacks are in the cache, which the grading kernels read (read-only): a
    submission trains only what its own code drives (lesson 06's triplet loss and semi-hard
    rule, when written), and a slow machine grades lesson 05 or 06 within its time budget.

    Each submission is graded on its own (:func:`grade_submission`) within its time budget
    (``notebook_timeout`` seconds plus a margin): one broken, hostile or slow submission costs
    only its own row. The moment a row is decided it is saved as ``<out>/rows/<lesson>/
    <student>.json`` with its feedback page ``<out>/feedback/<student>/<lesson>.html``, and
    ``<out>/grades.csv`` (a row for every notebook found, graded or not, with flags saying why;
    ``not graded yet`` for the ones still waiting) is rewritten; every file is replaced
    atomically, so a batch stopped at any point keeps every decided row. A re-run resumes: a
    submission whose row is saved is skipped unless ``regrade``, its file changed (SHA-256),
    its lesson changed or these settings changed. ``timeout``: seconds per cell (default
    ``nbgrader_config.py``); ``memory``: the grading kernel's memory limit in bytes;
    ``isolation=False`` grades without the sandbox (trusted code only; every row is flagged).
    """
    root, out, notebooks = Path(root).resolve(), Path(out), Path(notebooks)
    found = find_submissions(submissions, lessons(notebooks))
    if not found:
        raise FileNotFoundError(
            f"no submissions in {submissions}: expected <student>/<lesson>.ipynb with lessons "
            f"named like {lessons(notebooks)[:2]}"
        )
    if shard is not None:
        found = [s for s in found if in_shard(s.student, shard)]
        write_atomic(out / "shard.json", json.dumps({"shard": shard[0], "of": shard[1]}))
    if isolation:
        from lab_utils import sandbox

        reason = sandbox.available()
        if reason:
            raise RuntimeError(
                f"cannot isolate the grading kernels: {reason}. Grade in a "
                "container or VM, or pass --no-isolation (trusted code only)."
            )
    settings = {
        "timeout": timeout,
        "notebook_timeout": notebook_timeout,
        "memory": memory,
        "isolation": isolation,
    }
    rows = GradeRows(out, found, notebooks, settings)
    pending = [s for s in found if not s.problem and (regrade or not rows.decided(s))]
    rows.write_csv()
    released = _release_template(sorted({s.lesson for s in pending}), root, notebooks)
    _require_kit_checks(released)
    if prepare:
        from lab_utils.prepare import prepare_once

        for lesson in sorted({s.lesson for s in pending}):
            prepare_once(Path(notebooks) / f"{lesson}.ipynb")
    for submission in pending:
        try:
            row = grade_submission(
                submission,
                root / "template",
                root,
                released=released[submission.lesson],
                students_folder=Path(submissions) / submission.folder,
                timeout=timeout,
                notebook_timeout=notebook_timeout,
                memory=memory,
                isolation=isolation,
            )
        except Exception as error:  # noqa: BLE001 - one submission never stops the batch
            row = {"student": submission.student, "lesson": submission.lesson, "total": 0}
            row.update(max_score="", flags=_problem(submission.flags, "grading failed", error))
            row["retry"] = True  # the grader's failure, not the student's: a re-run tries again
        try:
            write_feedback(row, root, out / "feedback")
        except Exception as error:  # noqa: BLE001
            row["flags"] = _problem([row.get("flags", "")], "no feedback page", error)
        rows.save(submission, row)
    return rows.csv


def _require_kit_checks(released: dict[str, Path]) -> None:
    """Refuse, before grading anyone, a lesson whose graded cells the grader cannot decide."""
    from lab_utils import trusted

    for lesson, path in released.items():
        try:
            for check in trusted.check_cells(json.loads(path.read_text(encoding="utf-8"))).values():
                check.load()
        except (ValueError, LookupError, ImportError) as error:
            raise RuntimeError(
                f"{lesson}: {error}. The grader decides only graded cells that call a lab_utils "
                "check (`lesson.check_x(function)`, see AUTHORING.md), in its own process."
            ) from None


def _problem(flags: list[str], what: str, error: BaseException) -> str:
    """The flags with ``what (error)`` added, as a CSV cell."""
    return "; ".join([*filter(None, flags), f"{what} ({type(error).__name__}: {str(error)[:200]})"])


def _release_template(names: list[str], root: Path, notebooks: Path) -> dict[str, Path]:
    """Release ``names`` into a fresh ``<root>/template`` (no old or damaged gradebook reused)."""
    template = root / "template"
    if template.exists():
        shutil.rmtree(template)
    if not names:
        return {}
    return release(names, root=template, out=None, notebooks=notebooks)


def file_sha256(path: Path | str, limit: int = MAX_NOTEBOOK_BYTES) -> str | None:
    """SHA-256 of the file ``path`` points to (None: not a readable file of at most ``limit``)."""
    try:
        real = Path(path).resolve()
        if not real.is_file() or real.stat().st_size > limit:
            return None
        digest = hashlib.sha256()
        with open(real, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``:
    a reader (or a stopped batch) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


class GradeRows:
    """The batch's rows: one JSON file per graded submission and ``grades.csv``, kept current.

    ``<out>/rows/<lesson>/<student>.json`` holds the CSV row and what it was decided from: the
    SHA-256 of the submitted file, the file's path, the flags found with it, the SHA-256 of
    the lesson notebook and the grading settings. :meth:`decided` says whether a saved row
    still holds for a submission (then a re-run skips it).
    """

    def __init__(self, out: Path, found: list[Submission], notebooks: Path, settings: dict):
        self.out, self.found, self.settings = Path(out), found, settings
        self.csv = self.out / "grades.csv"
        self.rows: dict[tuple[str, str], dict] = {}
        self.lesson_sha = {
            s.lesson: file_sha256(Path(notebooks) / f"{s.lesson}.ipynb")
            for s in found
            if not s.problem
        }

    def path(self, submission: Submission) -> Path:
        """Where the row of ``submission`` is saved."""
        return self.out / "rows" / submission.lesson / f"{submission.student}.json"

    def _basis(self, submission: Submission) -> dict:
        return {
            "sha256": file_sha256(submission.path),
            "path": str(submission.path),
            "discovery": list(submission.flags),
            "lesson_sha256": self.lesson_sha.get(submission.lesson),
            "settings": self.settings,
        }

    def decided(self, submission: Submission) -> bool:
        """True if a saved row was decided from this very file, lesson and settings."""
        try:
            saved = json.loads(self.path(submission).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        basis = self._basis(submission)
        if basis["sha256"] is None or any(saved.get(k) != v for k, v in basis.items()):
            return False
        if not isinstance(saved.get("row"), dict) or saved.get("retry"):
            return False
        self.rows[(submission.student, submission.lesson)] = saved["row"]
        return True

    def save(self, submission: Submission, row: dict) -> None:
        """Save ``row`` (atomically), then rewrite ``grades.csv``."""
        row = {"student": submission.student, "folder": submission.folder, **row}
        retry = bool(row.pop("retry", False))
        record = {"row": row, **self._basis(submission), "graded_at": time.time()}
        record["retry"] = retry
        write_atomic(self.path(submission), json.dumps(record, indent=1, default=str))
        self.rows[(submission.student, submission.lesson)] = row
        self.write_csv()

    def all_rows(self) -> list[dict]:
        """A row for every notebook found, in order: decided, not gradable, or waiting."""
        rows = []
        for s in self.found:
            row = None if s.problem else self.rows.get((s.student, s.lesson))
            if row is None:
                reason = s.problem or "not graded yet: run the batch again to resume"
                row = {"student": s.student, "folder": s.folder, "lesson": s.lesson}
                row.update(total="", max_score="", flags="; ".join([*s.flags, reason]))
            rows.append(row)
        return rows

    def write_csv(self) -> None:
        """Rewrite ``grades.csv`` atomically from every row known now."""
        write_csv(self.all_rows(), self.csv)


# --- shards: one class graded by N machines of a scheduler, then merged --------------------


def parse_shard(text: str | None, environ: dict | None = None) -> tuple[int, int] | None:
    """``"i/N"`` (1 <= i <= N) -> (i, N); ``"auto"``: from the scheduler's task index.

    ``auto`` reads a Kubernetes Indexed Job's ``JOB_COMPLETION_INDEX`` (0-based; the count
    from ``LAB_UTILS_SHARDS``, the Job's ``completions``) or a Slurm job array's
    ``SLURM_ARRAY_TASK_ID`` (minus ``SLURM_ARRAY_TASK_MIN``) and ``SLURM_ARRAY_TASK_COUNT``.
    None or "" -> None (no sharding).
    """
    if not text:
        return None
    if text == "auto":
        text = _shard_from_environment(os.environ if environ is None else environ)
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ValueError(f"a shard is i/N with 1 <= i <= N (e.g. 2/8), but got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _shard_from_environment(environ: dict) -> str:
    """``"i/N"`` from a Kubernetes Indexed Job's or a Slurm job array's variables."""
    try:
        if environ.get("JOB_COMPLETION_INDEX", "") != "":
            index = int(environ["JOB_COMPLETION_INDEX"])
            return f"{index + 1}/{int(environ['LAB_UTILS_SHARDS'])}"
        if environ.get("SLURM_ARRAY_TASK_ID", "") != "":
            first = int(environ.get("SLURM_ARRAY_TASK_MIN", "0"))
            index = int(environ["SLURM_ARRAY_TASK_ID"]) - first
            return f"{index + 1}/{int(environ['SLURM_ARRAY_TASK_COUNT'])}"
    except (KeyError, ValueError) as error:
        raise ValueError(
            f"--shard auto: the scheduler's variables are incomplete or not whole numbers "
            f"({type(error).__name__}: {error}); Kubernetes needs JOB_COMPLETION_INDEX and "
            f"LAB_UTILS_SHARDS, Slurm SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT"
        ) from None
    raise ValueError(
        "--shard auto needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job, with "
        "LAB_UTILS_SHARDS) or SLURM_ARRAY_TASK_ID (a Slurm job array) in the environment"
    )


def in_shard(student: str, shard: tuple[int, int]) -> bool:
    """Whether ``student`` belongs to shard (i, N): SHA-256 of the id modulo N equals i - 1.

    A student's lessons all go to one shard, and the split depends on the id alone, so every
    machine agrees without talking to the others, whatever order it finds the folders in.
    """
    index, count = shard
    return int(hashlib.sha256(student.encode("utf-8")).hexdigest()[:12], 16) % count == index - 1


def _shard_rows(folder: Path) -> tuple[dict | None, list[dict], str | None]:
    """(shard.json, grades.csv rows, problem) of one shard's output folder."""
    try:
        described = json.loads((folder / "shard.json").read_text(encoding="utf-8"))
        return described, read_csv(folder / "grades.csv"), None
    except (OSError, ValueError) as error:
        return None, [], f"{folder}: not a finished shard ({type(error).__name__}: {error})"


def _merged_rows(folders: list[Path]) -> tuple[dict, dict, list[str]]:
    """{(student, lesson): row}, {(student, lesson): shard folder}, problems."""
    rows, origin, problems, seen = {}, {}, [], {}
    for folder in folders:
        described, shard_rows, problem = _shard_rows(folder)
        if problem:
            problems.append(problem)
            continue
        seen.setdefault((described["shard"], described["of"]), []).append(folder)
        for row in shard_rows:
            key = (row["student"], row["lesson"])
            if key in rows:
                flag = f"graded twice: in {origin[key].name} and {folder.name} (first kept)"
                problems.append(f"{key[0]} {key[1]}: {flag}")
                rows[key]["flags"] = "; ".join(filter(None, [rows[key]["flags"], flag]))
                continue
            if "not graded yet" in row.get("flags", ""):
                problems.append(f"{key[0]} {key[1]}: missing (shard {folder.name} did not finish)")
            rows[key], origin[key] = dict(row), folder
    counts = {count for _, count in seen}
    for count in counts:
        absent = [str(i) for i in range(1, count + 1) if (i, count) not in seen]
        if absent:
            problems.append(f"shards {', '.join(absent)} of {count} are missing")
    if len(counts) > 1:
        problems.append(f"shards of different splits were merged: N = {sorted(counts)}")
    problems += [
        f"shard {i}/{n} given twice: {', '.join(map(str, f))}"
        for (i, n), f in seen.items()
        if len(f) > 1
    ]
    return rows, origin, problems


def merge_shards(
    folders: list[Path | str],
    out: Path | str,
    submissions: Path | str | None = None,
    notebooks: Path | str = NOTEBOOKS,
) -> tuple[Path, list[str]]:
    """Join shards' grades and feedback into one ``out`` folder, as one run would have made it.

    Parameters
    ----------
    folders : list of paths
        Each shard's ``out`` folder (``grades.csv``, ``shard.json``, ``rows/``, ``feedback/``).
    out : path
        Gets ``grades.csv``, ``rows/`` and ``feedback/`` of every student, and ``merge.txt``.
    submissions : path, optional
        The submissions folder: a notebook there that no shard graded gets a row flagged
        ``missing``.
    notebooks : path
        The lessons' folder (which lessons the submissions are matched to).

    Returns
    -------
    (path of the merged grades.csv, problems): a student missing or graded twice, a shard
    missing, given twice or unfinished. Each is also in the flags of the row it concerns.
    """
    out, folders = Path(out), [Path(folder) for folder in folders]
    rows, origin, problems = _merged_rows(folders)
    if submissions is not None:
        for s in find_submissions(submissions, lessons(notebooks)):
            if (s.student, s.lesson) not in rows:
                flag = "missing: no shard graded this notebook"
                problems.append(f"{s.student} {s.lesson}: {flag}")
                rows[(s.student, s.lesson)] = {"student": s.student, "folder": s.folder}
                rows[(s.student, s.lesson)].update(lesson=s.lesson, total="", flags=flag)
    for (student, lesson), folder in origin.items():
        for part in (
            Path("rows") / lesson / f"{student}.json",
            Path("feedback") / student / f"{lesson}.html",
        ):
            if (folder / part).is_file():
                (out / part).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / part, out / part)
    ordered = [rows[key] for key in sorted(rows, key=lambda key: (key[1], key[0]))]
    write_csv(ordered, out / "grades.csv")
    write_atomic(out / "merge.txt", "".join(f"{line}\n" for line in problems) or "no problem\n")
    return out / "grades.csv", problems


MAX_EXECUTED_BYTES = 200_000_000


def executed_notebook(root: Path | str, lesson: str, student: str) -> Path:
    """The executed notebook of one graded submission (what its feedback page shows)."""
    folder = graded_folder(root, lesson, student)
    return folder / "autograded" / student / lesson / f"{lesson}.ipynb"


def write_feedback(row: dict, root: Path, feedback: Path) -> Path | None:
    """Write ``feedback/<student>/<lesson>.html`` from the executed notebook (small and safe:
    :mod:`lab_utils.feedback`); a stale page is removed when there is no executed notebook."""
    from lab_utils.feedback import feedback_page

    student, lesson = row["student"], row["lesson"]
    target = Path(feedback) / student / f"{lesson}.html"
    executed = executed_notebook(root, lesson, student)
    try:
        size = executed.stat().st_size
        notebook = (
            json.loads(executed.read_text(encoding="utf-8")) if size < MAX_EXECUTED_BYTES else {}
        )
    except (OSError, ValueError):
        target.unlink(missing_ok=True)
        return None
    if not isinstance(notebook, dict):
        notebook = {}
    known = {"student", "folder", "lesson", "total", "max_score", "flags", "retry"}
    scores = {key: value for key, value in row.items() if key not in known}
    page = feedback_page(
        notebook,
        title=f"{lesson}: feedback for {student}",
        scores=scores,
        total=row.get("total"),
        max_score=row.get("max_score"),
    )
    write_atomic(target, page)
    return target


def _points(value) -> float | int:
    value = float(value or 0)
    return int(value) if value.is_integer() else round(value, 3)


def write_csv(rows: list[dict], path: Path) -> None:
    """Write rows as CSV (atomically): student, folder, lesson, every check's points, total,
    max_score, flags."""
    fixed_front, fixed_back = ["student", "folder", "lesson"], ["total", "max_score", "flags"]
    checks = sorted({key for row in rows for key in row} - set(fixed_front + fixed_back))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fixed_front + checks + fixed_back, restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(Path(path), text.getvalue())


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


def _parser():
    """The command line: release, autograde (--shard), merge, hide-nbgrader."""
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
        help="memory limit of the grading kernel in bytes (default 4e9; see the README)",
    )
    grade_parser.add_argument(
        "--no-isolation",
        action="store_true",
        help="run kernels without the sandbox (trusted code only)",
    )
    grade_parser.add_argument(
        "--regrade",
        action="store_true",
        help="grade every submission again (default: resume, skipping saved rows)",
    )
    grade_parser.add_argument(
        "--no-prepare",
        action="store_true",
        help="do not run each lesson once first to cache its trainings (python -m lab_utils.prepare)",
    )
    grade_parser.add_argument(
        "--shard",
        default=os.environ.get("LAB_UTILS_SHARD", ""),
        help="grade only shard i/N of the students (1 <= i <= N), or 'auto': from "
        "JOB_COMPLETION_INDEX + LAB_UTILS_SHARDS (Kubernetes) or SLURM_ARRAY_TASK_ID/_COUNT; "
        "output in <out>/shards/<i>-of-<N>/, joined by the merge command",
    )
    merge_parser = commands.add_parser("merge", help="join shards' grades and feedback")
    merge_parser.add_argument("shards", nargs="+", help="each shard's output folder")
    merge_parser.add_argument("--out", default=str(GRADES_FOLDER))
    merge_parser.add_argument(
        "--submissions", help="the submissions folder: flags a notebook that no shard graded"
    )
    commands.add_parser("hide-nbgrader", help="disable nbgrader's panels in JupyterLab")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m lab_utils.grading release [LESSON...]``, ``autograde FOLDER``, ``hide-nbgrader``."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "autograde":
        try:
            parse_shard(arguments.shard)
        except ValueError as error:
            parser.error(str(error))
    start = time.perf_counter()
    if arguments.command == "hide-nbgrader":
        hide_nbgrader_ui()
        return 0
    if arguments.command == "merge":
        csv_path, problems = merge_shards(arguments.shards, arguments.out, arguments.submissions)
        print("\n".join(problems) or "merged: every notebook graded once")
        print(f"grades: {csv_path}")
        return 1 if problems else 0
    if arguments.command == "release":
        released = release(arguments.lessons or None, out=arguments.out)
        for name in released:
            print(f"released {Path(arguments.out) / (name + '.ipynb')}")
    else:
        csv_path = _autograde_command(arguments)
        if csv_path is None:
            return 130
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


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _autograde_command(arguments) -> Path | None:
    """Run :func:`autograde` for the command line; None if it was stopped (rows kept)."""
    import signal

    signal.signal(signal.SIGTERM, _stop)  # `kill`, `timeout`, `docker stop`: like Ctrl-C
    shard = parse_shard(arguments.shard)
    root = COURSE_ROOT
    if shard is not None:  # its own folders: shards may share a file system
        name = f"{shard[0]}-of-{shard[1]}"
        arguments.out = str(Path(arguments.out) / "shards" / name)
        root = COURSE_ROOT / "shards" / name
    try:
        return autograde(
            arguments.submissions,
            root=root,
            shard=shard,
            out=arguments.out,
            timeout=arguments.timeout,
            notebook_timeout=arguments.notebook_timeout,
            memory=arguments.memory or None,
            isolation=not arguments.no_isolation,
            regrade=arguments.regrade,
            prepare=not arguments.no_prepare,
        )
    except KeyboardInterrupt:
        print(
            f"stopped: every row decided so far is in {Path(arguments.out) / 'grades.csv'}; "
            "run the same command again to grade the rest",
            file=sys.stderr,
        )
        return None


if __name__ == "__main__":
    sys.exit(main())
