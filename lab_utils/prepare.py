"""Train every lesson's models once, into the training cache, before a class or a grading run.

``python -m lab_utils.prepare [LESSON ...]`` (``make prepare``) runs the instructor version of
each lesson (all of them by default) top to bottom in a fresh kernel, so that every
``models.fit`` training it makes is stored in ``data.cache_dir()/trained/``. Afterwards the
same cells load the weights in about a second instead of training: a re-run in front of a
class, ``make present``, and every graded notebook (the grader's kernels read the cache
read-only, so no student's submission trains from scratch). Trainings are deterministic and
keyed by everything that determines them, so preparing twice trains nothing the second time.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = PROJECT / "notebooks"
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
    """Run one lesson notebook (trusted: the instructor's own) so its trainings are cached.

    Returns {"lesson", "seconds", "from_cache": trainings loaded from the cache, "errors"}.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(str(path), as_version=4)
    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
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
        f"{output.get('ename')}: {str(output.get('evalue'))[:200]}"
        for cell in notebook.cells
        if "raises-exception" not in cell.get("metadata", {}).get("tags", [])
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    return {
        "lesson": path.stem,
        "seconds": seconds,
        "from_cache": sum(len(_LOADED.findall(text)) for text in texts),
        "errors": errors,
    }


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


def main(argv: list[str] | None = None) -> int:
    """``python -m lab_utils.prepare [LESSON ...]``: prepare the lessons; 1 if one failed."""
    from lab_utils import data

    parser = argparse.ArgumentParser(
        prog="python -m lab_utils.prepare",
        description="Run the lessons once so that every training is in the cache "
        f"({data.cache_dir() / 'trained'}).",
    )
    parser.add_argument("lessons", nargs="*", help="lesson names or numbers (default: all)")
    arguments = parser.parse_args(argv)
    failed = False
    for path in lesson_paths(arguments.lessons):
        result = prepare(path)
        status = "; ".join(result["errors"]) or "ok"
        print(
            f"{result['lesson']}: {result['seconds']:.0f} s, {result['from_cache']} "
            f"training(s) already cached; {status}",
            flush=True,
        )
        failed |= bool(result["errors"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
