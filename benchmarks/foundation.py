"""Figures for the foundation: import time of lab_utils and each lesson's run time and memory.

Run with `make benchmark` (or `.venv/bin/python benchmarks/foundation.py [notebook ...]`).
Prints measured figures only; nothing here is a pass/fail test.
"""

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def import_seconds(repeats: int = 7) -> float:
    """Median wall time of `import lab_utils` plus its core modules in a fresh interpreter."""
    code = ("import time; t = time.perf_counter(); import lab_utils, lab_utils.data, "
            "lab_utils.plots, lab_utils.widgets, lab_utils.exercises, lab_utils.lesson; "
            "print(time.perf_counter() - t)")
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(repeats)]
    return statistics.median(times)


def run_notebook(path: Path) -> tuple[float, float]:
    """Execute a notebook once under nbval; return (seconds, peak RSS of any process in MiB)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
                   cwd=PROJECT, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # includes the kernel
    return seconds, peak_kib / 1024


def main(notebooks):
    print(f"import lab_utils (core modules), median of 7 fresh interpreters: "
          f"{import_seconds():.3f} s")
    for path in notebooks:
        seconds, peak = run_notebook(path)
        print(f"{path.name}: {seconds:.1f} s under nbval (with kernel start-up), "
              f"peak memory so far {peak:.0f} MiB")


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted((PROJECT / "notebooks").glob("[0-9]*.ipynb"))
    main(paths)
