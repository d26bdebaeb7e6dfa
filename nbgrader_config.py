"""nbgrader configuration for the kit (instructors only; students never need nbgrader).

Use it through `make release` (lab_utils/grading.py), which runs nbgrader from this folder so
that this file is found. The lesson notebooks in notebooks/ are the only source:
`lab_utils.grading` copies each one to build/course/source/<lesson>/<lesson>.ipynb (git-ignored)
before every release, so there is no hand-kept copy to forget.

nbgrader only releases: it turns the solutions into `raise NotImplementedError()` and removes
hidden tests. Grading (`make autograde`) does not use nbgrader's autograder, whose score is
"the check cell raised or not" in the student's own kernel, which the student's code can
subvert: lab_utils.trusted runs the student's cells in a sandboxed kernel and decides every
check in the grader's own process (see the README).
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
