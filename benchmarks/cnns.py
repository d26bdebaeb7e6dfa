"""Figures for lesson 04 "CNNs" (printed, not a pass/fail test).

1. The comparison of the lesson, from one run: SVM, dense network and CNN trained on
   `placed_digits` with the lesson's settings (test accuracy, parameters, training seconds,
   CPU seconds).
2. The lesson's run time under nbval and its peak memory (largest resident set of the
   processes it started, i.e. the notebook's kernel), skip with --no-notebook.

The machine's load average is printed next to the timings: on a shared machine wall-clock
seconds grow with the load, CPU seconds much less.

Run: `.venv/bin/python benchmarks/cnns.py [--no-notebook]` (or `make benchmark`).
"""

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def machine() -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} CPU cores, load average {load} (1, 5, 15 min)"


def comparison_figures() -> None:
    from lab_utils import cnns, data, lesson, models
    lesson.setup(seed=0, deep_learning=True)
    split = cnns.split_dataset(data.load_dataset("placed_digits", seed=0), seed=0)
    networks = {"dense": models.dense_classifier(split.image_shape, 10,
                                                 hidden_units=cnns.DENSE_UNITS),
                "CNN": cnns.lesson_cnn(split.image_shape, 10)}
    print(f"before training: {machine()}")
    comparison = cnns.compare_classifiers(split, networks, epochs=cnns.EPOCHS, seed=0)
    print(f"after training:  {machine()}")
    print(f"placed_digits {split.sizes()}, epochs {cnns.EPOCHS}, one run:")
    print(comparison.table())
    row = comparison.row("CNN")
    print(f"aim: CNN >= 97% test accuracy with <= 30 s of training on 2 CPU cores -> "
          f"{row['test_accuracy']:.1%} in {row['training_seconds']:.1f} s "
          f"({row['cpu_seconds']:.1f} CPU s)")


def notebook_figures() -> None:
    print(f"before the notebook: {machine()}")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "notebooks/04_cnns.ipynb", "-q",
                             "-p", "no:cacheprovider"], cwd=PROJECT, capture_output=True,
                            text=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024     # KiB -> MiB
    status = "passed" if result.returncode == 0 else f"FAILED\n{result.stdout[-3000:]}"
    print(f"lesson 04 under nbval: {seconds:.0f} s ({status}); peak memory of the largest "
          f"process (the kernel) {peak:.0f} MiB; after: {machine()}")


if __name__ == "__main__":
    comparison_figures()
    if "--no-notebook" not in sys.argv:
        notebook_figures()
