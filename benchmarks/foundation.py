"""Figures for every lesson: import time of lab_utils, and each lesson's run time and memory.

Run with `make benchmark` (or `.venv/bin/python benchmarks/foundation.py [notebook ...]`).
Prints measured figures only; nothing here is a pass/fail test.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _machine import machine  # benchmarks/_machine.py (scripts run from this folder)

PROJECT = Path(__file__).resolve().parent.parent


def import_seconds(repeats: int = 7) -> float:
    """Median wall time of `import lab_utils` plus its core modules in a fresh interpreter."""
    code = (
        "import time; t = time.perf_counter(); import lab_utils, lab_utils.data, "
        "lab_utils.plots, lab_utils.widgets, lab_utils.exercises, lab_utils.lesson; "
        "print(time.perf_counter() - t)"
    )
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return statistics.median(times)


def trained_files() -> set:
    """The weight files in models.train's cache (LAB_UTILS_CACHE, else ~/.cache/lab_utils):
    a lesson that adds some trained its models, one that adds none took them from the cache."""
    sys.path.insert(0, str(PROJECT))
    from lab_utils import data

    # The lessons run under pytest, whose conftest.py would otherwise give them a throw-away
    # cache: point them at this one so the count above describes their trainings.
    os.environ["LAB_UTILS_CACHE"] = str(data.cache_dir())
    return set((data.cache_dir() / "trained").glob("*.weights.h5"))


def run_notebook(path: Path) -> tuple[float, float]:
    """Execute a notebook once under nbval; return (seconds, peak RSS of its kernel in MiB).

    A small wrapper process runs pytest, so RUSAGE_CHILDREN there covers this notebook only
    (the kernel is the largest process pytest starts).
    """
    wrapper = (
        "import resource, subprocess, sys; subprocess.run([sys.executable, '-m', 'pytest',"
        " '-q', '-p', 'no:cacheprovider', sys.argv[1]], check=True, capture_output=True);"
        " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", wrapper, str(path)],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, int(result.stdout) / 1024


def main(notebooks):
    seconds = import_seconds()
    print(f"import lab_utils (core modules), median of 7 fresh interpreters: {seconds:.3f} s")
    print(
        f"RESULT `import lab_utils` and its core modules (no TensorFlow), median of 7 "
        f"interpreters | {seconds:.2f} s"
    )
    print(f"before the lessons: {machine()}")
    for path in notebooks:
        stored_before = trained_files()
        try:
            seconds, peak = run_notebook(path)
        except subprocess.CalledProcessError:
            # Reported, not hidden: the other lessons are still measured in this run.
            print(f"{path.name}: FAILED under nbval (run `pytest {path}` to see why)")
            print(
                f"RESULT lesson {path.stem} run time under nbval / peak memory of the kernel "
                f"| failed under nbval in this run"
            )
            continue
        trained = len(trained_files() - stored_before)
        how = (
            f"{trained} training(s) run and stored"
            if trained
            else "trainings (if any) from the cache"
        )
        print(
            f"{path.name}: {seconds:.1f} s under nbval (pytest and kernel start-up "
            f"included), peak memory {peak:.0f} MiB, {how}"
        )
        print(
            f"RESULT lesson {path.stem} run time under nbval (pytest and kernel start-up "
            f"included) / peak memory of the kernel, {how} | {seconds:.0f} s / {peak:.0f} MiB"
        )
    print(f"after the lessons: {machine()}")


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted((PROJECT / "notebooks").glob("[0-9]*.ipynb"))
    main(paths)
