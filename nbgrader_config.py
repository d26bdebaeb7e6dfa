"""nbgrader configuration for the kit (instructors only; students never need nbgrader).

Use it through `make release` / `make autograde` (lab_utils/grading.py), which run nbgrader
from this folder so that this file is found. The lesson notebooks in notebooks/ are the only
source: `lab_utils.grading` copies each one to build/course/source/<lesson>/<lesson>.ipynb
(git-ignored) before every release, so there is no hand-kept copy to forget. `make autograde`
grades each submission in its own course folder (build/course/graded/<lesson>/<student>/) with
the settings at the end of this file switched on (fresh kit, output cap, notebook limit;
sandboxed kernels unless --no-isolation; see the README).
"""

from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

PROJECT = Path(__file__).resolve().parent

# One course; an absolute root (nbgrader resolves relative roots against the current folder,
# which breaks as soon as it is run from anywhere else). `--CourseDirectory.root=...` on the
# command line (the tests use a temporary folder) overrides it.
c.CourseDirectory.course_id = "image-dl"
c.CourseDirectory.root = str(PROJECT / "build" / "course")
c.CourseDirectory.source_directory = "source"  # generated from notebooks/, never edited
c.CourseDirectory.release_directory = "release"

# Grading runs the whole lesson. Training cells of the deep-learning lessons take tens of
# seconds on a 2-core machine, so the per-cell limit is generous; an infinite loop costs at most
# this long, is interrupted, and the remaining cells are still run and graded.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True

# A student printing 200,000 lines must not produce a 20 MB feedback file.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# nbgrader gives 0 points to a graded cell with ANY stderr output. Warnings and TensorFlow log
# lines are stderr, not errors (a wrong answer raises), so stderr is dropped before grading.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?s).+"

# New students are created in the gradebook when their first submission is graded.
c.Autograde.create_student = True

# --- set by lab_utils.grading for each submission it grades (nothing changes without it) ----
# LAB_UTILS_GRADING=1 (every graded submission, with or without --no-isolation): the graded
# checks re-import the kit fresh, outputs are capped by bytes, and the notebook has a time limit.
# LAB_UTILS_GRADING_SANDBOX=1 (not with --no-isolation): every kernel also runs in
# lab_utils.sandbox (the kernelspec the grader put on JUPYTER_PATH) and talks to nbgrader over
# Unix sockets (it has no network).
import os  # noqa: E402

if "1" in (os.environ.get("LAB_UTILS_GRADING"), os.environ.get("LAB_UTILS_GRADING_SANDBOX")):
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        Execute,
        IgnorePattern,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
        SaveAutoGrades,
    )

    from lab_utils.autograde_hooks import FreshKit, LimitOutputBytes, notebook_timeout

    c.Execute.timeout_func = notebook_timeout
    c.Autograde.sanitize_preprocessors = [
        ClearOutput,
        DeduplicateIds,
        OverwriteKernelspec,
        OverwriteCells,
        FreshKit,
        CheckCellMetadata,
    ]
    c.Autograde.autograde_preprocessors = [
        Execute,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        LimitOutputBytes,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]

if os.environ.get("LAB_UTILS_GRADING_SANDBOX") == "1":
    from lab_utils.sandbox import KERNEL_NAME

    c.Execute.kernel_name = KERNEL_NAME
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = os.path.join(os.environ["JUPYTER_RUNTIME_DIR"], "kernel")
