"""Train every lesson's models once, into the training cache, before a class or a grading run.

``python -m lab_utils.prepare [LESSON ...]`` (``make prepare``) runs each lesson (all of them
by default) top to bottom in a fresh kernel twice: the instructor version, then the student
version with every exercise unsolved (``students.student_version``), whose cells fall back
on the kit's functions. Every ``models.fit`` training they make is stored in
``data.cache_dir()/trained/``. Afterwards the same cells load the weights in about a second
instead of training: a re-run in front of a class, ``make present``, and graded notebooks
(the grader's kernels read the cache read-only) whose exercises are solved as the
instructor's or not at all. A student's own function that drives a training (lesson 06's
triplet loss and semi-hard rule) is a training of its own, made in the grader. Trainings are
deterministic and keyed by everything that determines them, so preparing twice trains nothing
the second time.

For a whole class (a lab room or a JupyterHub), ``--shared DIR`` (``make prepare
SHARED=DIR``) fills a shared folder instead: the downloaded data files the personal cache
holds and every lesson's trained weights, readable by everyone. Kernels started with
``LAB_UTILS_SHARED=DIR`` read it before their own cache and never write there.

``--add-data NAME FILE`` puts a data file obtained without internet (e.g. scikit-learn's
``olivetti_py3.pkz`` from another machine) into the cache, or into ``--shared DIR``, after
checking its sha256.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from pathlib import Path

from lab_utils import resources

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = resources.kit_folder("lessons")  # notebooks/, or the installed kit's lessons
_LOADED = re.compile(r"\[models\] .*loaded the weights")


def lesson_paths(names: list[str] | None = None, folder: Path = NOTEBOOKS) -> list[Path]:
    """The lesson notebooks named (``01_pixels`` or ``01``), or all of them, in order."""
    available = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return available
    chosen = []
    for name in names:
        matches = [path for path in available if path.stem == name or path.stem[:2] == name]
        if not matches:
            raise ValueError(
                f"no lesson {name!r} in {folder}: choose from {[path.stem for path in available]}"
            )
        chosen += matches
    return chosen


def prepare(path: Path, *, cell_timeout: int = 1800) -> dict:
    """Run one lesson notebook (trusted: the instructor's own), then its student version, so
    that the trainings of both (the solutions' and the kit's fallbacks') are cached.

    Returns {"lesson", "seconds" (both runs), "from_cache": trainings the instructor version
    loaded from the cache, "errors"}: errors of the instructor version, and of the student
    version other than its exercises' "not written yet" (NotImplementedError,
    ExerciseNotStarted).
    """
    import nbformat

    from lab_utils import students

    instructor = nbformat.read(str(path), as_version=4)
    student = nbformat.reads(
        json.dumps(students.student_version(json.loads(nbformat.writes(instructor)))),
        as_version=4,
    )
    seconds, texts, errors = 0.0, [], []
    for notebook, unsolved in ((instructor, False), (student, True)):
        run = _execute(notebook, path.parent, cell_timeout)
        seconds += run["seconds"]
        texts += [] if unsolved else run["texts"]
        errors += [
            error
            for error, exercise in run["errors"]
            if not (unsolved and exercise and error.startswith(_NOT_WRITTEN))
        ]
    return {
        "lesson": path.stem,
        "seconds": seconds,
        "from_cache": sum(len(_LOADED.findall(text)) for text in texts),
        "errors": errors,
    }


#: How an unsolved exercise's cells fail in the student version (not a preparation error).
_NOT_WRITTEN = ("NotImplementedError", "ExerciseNotStarted")


def _execute(notebook, folder: Path, cell_timeout: int) -> dict:
    """Run ``notebook`` in a fresh kernel in ``folder``: {"seconds", "texts" (its streams),
    "errors": [(description, from an exercise or check cell?)]}."""
    from nbclient import NotebookClient

    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    texts = [
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    ]
    errors = [
        (
            f"{output.get('ename')}: {str(output.get('evalue'))[:200]}",
            bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))
            or bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution")),
        )
        for cell in notebook.cells
        if "raises-exception" not in cell.get("metadata", {}).get("tags", [])
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    return {"seconds": seconds, "texts": texts, "errors": errors}


def _stamp(path: Path) -> Path:
    """Where ``prepare_once`` records that this lesson, with this kit, has been prepared."""
    import hashlib

    from lab_utils import data

    digest = hashlib.sha256(path.read_bytes())
    for source in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        digest.update(source.read_bytes())
    return data.cache_dir() / "prepared" / f"{path.stem}-{digest.hexdigest()[:16]}"


def prepare_once(path: Path) -> dict | None:
    """``prepare(path)`` unless this lesson and this kit were prepared already (then None)."""
    stamp = _stamp(path)
    if stamp.exists():
        return None
    result = prepare(path)
    if not result["errors"]:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(f"{result['seconds']:.1f} s\n")
    return result


@contextlib.contextmanager
def _cache_in(folder: Path):
    """The kernels started inside train into ``folder`` (LAB_UTILS_CACHE) and read no other
    shared folder (LAB_UTILS_SHARED unset): how ``--shared`` fills a shared folder."""
    saved = {name: os.environ.get(name) for name in ("LAB_UTILS_CACHE", "LAB_UTILS_SHARED")}
    os.environ["LAB_UTILS_CACHE"] = str(folder)
    os.environ.pop("LAB_UTILS_SHARED", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def share_data_files(shared: Path) -> list[str]:
    """Copy every registered data file that the personal cache (or another shared folder)
    holds, verified, into ``shared``; returns one line per file saying what happened."""
    from lab_utils import data

    lines = []
    for name, entry in data.DATA_FILES.items():
        target = shared / entry.filename
        if target.is_file() and data.sha256_of(target) == entry.sha256:
            lines.append(f"{name}: already in {shared}")
            continue
        found = data.find_data_file(entry.filename, entry.sha256)
        if found is None:
            lines.append(
                f"{name}: not in the cache, so the lessons will download it into {shared} if "
                f"they can (else: --add-data {name} FILE --shared {shared})"
            )
            continue
        data.add_data_file(name, found, shared)
        lines.append(f"{name}: copied {found} to {shared}")
    return lines


def readable_by_everyone(folder: Path) -> None:
    """Let every user read (never write) the shared folder's files: a+rX, no group/other write."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        extra = 0o555 if path.is_dir() else 0o444
        os.chmod(path, (mode | extra) & ~0o022)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    from lab_utils import data

    parser = argparse.ArgumentParser(
        prog="python -m lab_utils.prepare",
        description="Run the lessons once so that every training is in the cache "
        f"({data.cache_dir() / 'trained'}), or in a shared folder (--shared).",
    )
    parser.add_argument("lessons", nargs="*", help="lesson names or numbers (default: all)")
    parser.add_argument(
        "--shared",
        metavar="DIR",
        help="fill this shared folder (data files and trained weights) for LAB_UTILS_SHARED",
    )
    parser.add_argument(
        "--notebooks", default=str(NOTEBOOKS), help="the lessons' folder (default: notebooks/)"
    )
    parser.add_argument(
        "--add-data",
        nargs=2,
        metavar=("NAME", "FILE"),
        help=f"check FILE and put it into the cache (or --shared DIR); NAME: "
        f"{', '.join(sorted(data.DATA_FILES))}. Runs no lesson.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only say whether each lesson was prepared with this kit (`make present`)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """``python -m lab_utils.prepare [LESSON ...] [--shared DIR] [--add-data NAME FILE]``;
    returns 1 if a lesson failed, 2 if a file to add was refused."""
    from lab_utils import data

    arguments = _arguments(argv)
    shared = Path(arguments.shared).expanduser().resolve() if arguments.shared else None
    if arguments.add_data:
        try:
            path = data.add_data_file(*arguments.add_data, shared)
        except (ValueError, OSError) as error:
            print(f"refused: {error}", file=sys.stderr)
            return 2
        print(f"{arguments.add_data[0]}: {path} (sha256 checked)")
        return 0
    if arguments.check:  # `make present`: a lesson not prepared trains while it is shown
        for path in lesson_paths(arguments.lessons, Path(arguments.notebooks)):
            print(
                f"{path.stem}: prepared, its trainings load from the cache"
                if _stamp(path).exists()
                else f"{path.stem}: NOT prepared with this kit: its trainings will run while "
                f"it is shown (minutes). Before a class: make prepare LESSONS={path.stem[:2]}",
                flush=True,
            )
        return 0
    context = contextlib.nullcontext()
    if shared is not None:
        shared.mkdir(parents=True, exist_ok=True)
        for line in share_data_files(shared):
            print(line, flush=True)
        context = _cache_in(shared)
    failed = False
    with context:
        for path in lesson_paths(arguments.lessons, Path(arguments.notebooks)):
            result = prepare(path)
            if not result["errors"] and shared is None:  # what `--check` looks for
                _stamp(path).parent.mkdir(parents=True, exist_ok=True)
                _stamp(path).write_text(f"{result['seconds']:.1f} s\n")
            status = "; ".join(result["errors"]) or "ok"
            print(
                f"{result['lesson']}: {result['seconds']:.0f} s, {result['from_cache']} "
                f"training(s) already cached; {status}",
                flush=True,
            )
            failed |= bool(result["errors"])
    if shared is not None:
        readable_by_everyone(shared)
        print(f"shared folder ready: {shared} (point kernels at it: LAB_UTILS_SHARED={shared})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
