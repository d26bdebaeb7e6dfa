"""Each lesson's first run (empty cache: every training runs) and its run from the cache.

Run with `make benchmark` or `.venv/bin/python benchmarks/first_run.py [LESSON ...]` (`05`,
`05_detection` or a notebook path; default: every lesson). `--commit REV` runs the lessons as
committed at REV (`git show REV:notebooks/...`), so a lesson being edited in the working tree
can still be measured. Each lesson runs twice, in a fresh kernel started by nbclient (what
`make prepare` and Voila use), with a cache folder of its own:

1. the first run: an empty training cache (only the Olivetti faces are copied into it from
   ../shared/data when they are there, as a student's first download would have stored
   them), so every `models.fit` trains;
2. the run from the cache just filled: every training is loaded.

For each run it prints the wall time (kernel start-up included), the peak memory of the kernel
process (its maximum resident set size, read with RUSAGE_CHILDREN in a wrapper process that
starts only that kernel), the slowest cell (nbclient's execution timestamps) and the load
average (1 min) at the start and at the end: on a shared machine wall times grow with the load,
so each figure is printed next to it. Prints measured figures only; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _machine import machine  # benchmarks/_machine.py (scripts run from this folder)

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = PROJECT / "notebooks"
OLIVETTI = PROJECT.parent / "shared" / "data" / "olivetti_py3.pkz"

# Runs in a child process: executes one notebook with nbclient, then reports the timings and
# the kernel's peak memory (the kernel is this process's only child once it has exited).
_WRAPPER = r"""
import json, resource, sys, time
from datetime import datetime
import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(notebook, timeout=3600, kernel_name="python3", allow_errors=True,
                        record_timing=True, resources={"metadata": {"path": sys.argv[2]}})
start = time.perf_counter()
client.execute()
seconds = time.perf_counter() - start
cells, errors = [], []
for index, cell in enumerate(notebook.cells):
    if cell.cell_type != "code":
        continue
    timing = cell.metadata.get("execution", {})
    begin, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if begin and end:
        took = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                - datetime.fromisoformat(begin.replace("Z", "+00:00"))).total_seconds()
        cells.append([index, took, cell.source.splitlines()[0][:60] if cell.source else ""])
    tags = cell.metadata.get("tags", [])
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error" and "raises-exception" not in tags:
            errors.append(f"cell {index}: {output.get('ename')}: {str(output.get('evalue'))[:120]}")
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024, "cells": cells,
                  "errors": errors}))
"""


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def lesson_notebooks(names: list[str], commit: str | None, folder: Path) -> list[Path]:
    """The notebooks to run: copies of the committed versions (``commit``) or the files."""
    available = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    chosen = []
    for name in names or [path.stem for path in available]:
        path = Path(name)
        if path.suffix == ".ipynb":
            chosen.append(path.resolve())
            continue
        matches = [p for p in available if p.stem == name or p.stem[:2] == name.zfill(2)]
        if not matches:
            sys.exit(f"no lesson {name!r}: choose from {[p.stem for p in available]}")
        chosen += matches
    if commit is None:
        return chosen
    copies = []
    for path in chosen:
        relative = path.relative_to(PROJECT).as_posix()
        text = subprocess.run(
            ["git", "show", f"{commit}:{relative}"],
            cwd=PROJECT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        copy = folder / path.name
        copy.write_text(text)
        copies.append(copy)
    return copies


def run_once(notebook: Path, cache: Path) -> dict:
    """Execute ``notebook`` (kernel in notebooks/, cache ``cache``); add the load averages."""
    environment = {**os.environ, "LAB_UTILS_CACHE": str(cache), "LAB_UTILS_OFFLINE": "1"}
    before = load()
    result = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(notebook), str(NOTEBOOKS)],
        cwd=NOTEBOOKS,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["load"] = (before, load())
    return figures


def describe(figures: dict) -> str:
    """One run's figures in words."""
    index, seconds, first_line = max(figures["cells"], key=lambda cell: cell[1])
    low, high = figures["load"]
    return (
        f"{figures['seconds']:.0f} s, peak {figures['peak_mib'] / 1024:.2f} GiB, slowest cell "
        f"{index} ({seconds:.0f} s: {first_line!r}), load average {low:.1f} -> {high:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers, names or notebook paths")
    parser.add_argument("--commit", help="run the lessons as committed at this revision")
    arguments = parser.parse_args(argv)
    print(f"before the lessons: {machine()}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="first_run_") as folder:
        for notebook in lesson_notebooks(arguments.lessons, arguments.commit, Path(folder)):
            cache = Path(folder) / f"cache_{notebook.stem}"
            cache.mkdir()
            if OLIVETTI.exists():
                shutil.copy(OLIVETTI, cache / OLIVETTI.name)
            first = run_once(notebook, cache)
            trained = len(list((cache / "trained").glob("*.weights.h5")))
            again = run_once(notebook, cache)
            errors = first["errors"] + again["errors"]
            failed |= bool(errors)
            print(
                f"{notebook.stem}: first run (empty cache, {trained} training(s) stored): "
                f"{describe(first)}"
            )
            print(f"{notebook.stem}: run from the cache: {describe(again)}")
            if errors:
                print(f"{notebook.stem}: ERRORS {errors[:3]}")
            for label, figures in (("first run, empty cache", first), ("from the cache", again)):
                low, high = figures["load"]
                print(
                    f"RESULT lesson {notebook.stem} {label}: wall time (kernel start "
                    f"included), peak kernel memory; load average during the run (2 cores) "
                    f"| {figures['seconds']:.0f} s, {figures['peak_mib'] / 1024:.2f} GiB; "
                    f"load {low:.1f}-{high:.1f}" + (" (errors: see output)" if errors else "")
                )
    print(f"after the lessons: {machine()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
