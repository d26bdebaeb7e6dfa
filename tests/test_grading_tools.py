"""The parts of lab_utils.grading that need no nbgrader: tamper flags, submission discovery, CSV.

Fast unit tests; the nbgrader round trip itself is tests/test_grading.py.
"""

import json
import subprocess
import sys

import pytest

from lab_utils import grading


def _notebook(path, cells):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def _code(source, **nbgrader):
    metadata = {"nbgrader": {"schema_version": 3, **nbgrader}} if nbgrader else {}
    return {"cell_type": "code", "metadata": metadata, "source": source, "outputs": [],
            "execution_count": None}


RELEASED_CELLS = [
    _code("import numpy as np\nfrom lab_utils import pixels"),
    _code("def to_grayscale(image):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
          solution=True, grade=False, locked=False, grade_id="ex_gray"),
    _code("pixels.check_to_grayscale(to_grayscale)", solution=False, grade=True, locked=True,
          grade_id="check_gray", points=1),
]


@pytest.fixture
def released(tmp_path):
    return _notebook(tmp_path / "release.ipynb", RELEASED_CELLS)


def _flags(tmp_path, released, student_code, replace_check=None, drop_check=False):
    cells = [dict(cell) for cell in RELEASED_CELLS]
    cells[1] = {**cells[1], "source": student_code}
    if replace_check is not None:
        cells[2] = {**cells[2], "source": replace_check}
    if drop_check:
        cells = cells[:2]
    return grading.tamper_flags(_notebook(tmp_path / "student.ipynb", cells), released)


HONEST = "def to_grayscale(image):\n    return image @ np.array([0.2125, 0.7154, 0.0721])"


def test_an_honest_solution_has_no_flag(tmp_path, released):
    assert _flags(tmp_path, released, HONEST) == []


def test_the_untouched_release_has_no_flag(released):
    assert grading.tamper_flags(released, released) == []


@pytest.mark.parametrize("code, expected", [
    (HONEST + "\nexec('x = 1')", "calls exec"),
    (HONEST + "\nvalue = eval('1 + 1')", "calls eval"),
    (HONEST + "\nnp.testing.assert_allclose = lambda *a, **k: None",
     "monkeypatches np.testing.assert_allclose"),
    (HONEST + "\nsetattr(np, 'allclose', lambda *a, **k: True)", "monkeypatches with setattr"),
    (HONEST + "\npixels.check_to_grayscale = lambda function: None",
     "monkeypatches pixels.check_to_grayscale"),
    (HONEST + "\ndef check_to_grayscale(function):\n    pass", "redefines check_to_grayscale"),
    (HONEST + "\npixels = None", "redefines pixels"),
    (HONEST + "\nget_ipython().input_transformers_post.append(lambda lines: lines)",
     "input_transformers_post"),
    (HONEST + "\nip = get_ipython()", "uses get_ipython"),
    (HONEST + "\nfrom unittest import mock\nmock.patch('numpy.allclose').start()",
     "monkeypatches with unittest.mock"),
    (HONEST + "\nimport builtins", "imports builtins"),
    (HONEST + "\n!curl http://example.com", "shell command"),
    (HONEST + "\n%load_ext cheat", "magic %load_ext"),
])
def test_tampering_is_flagged(tmp_path, released, code, expected):
    flags = _flags(tmp_path, released, code)
    assert any(expected in flag for flag in flags), f"{expected!r} not in {flags}"


def test_harmless_magics_are_not_flagged(tmp_path, released):
    assert _flags(tmp_path, released, "%matplotlib inline\n%timeit 1 + 1\n" + HONEST) == []


def test_edited_and_deleted_checks_are_flagged(tmp_path, released):
    edited = _flags(tmp_path, released, HONEST, replace_check="pass")
    assert any("edited locked cell check_gray" in flag for flag in edited)
    deleted = _flags(tmp_path, released, HONEST, drop_check=True)
    assert any("deleted graded cell check_gray" in flag for flag in deleted)


def test_code_that_does_not_parse_is_not_a_crash(tmp_path, released):
    assert _flags(tmp_path, released, "def to_grayscale(image:\n    return") == []


def test_submissions_are_found_per_student_and_lesson(tmp_path):
    inbox = tmp_path / "inbox"
    _notebook(inbox / "alice" / "01_pixels.ipynb", [])
    _notebook(inbox / "bob smith" / "week1" / "01_pixels.ipynb", [])
    _notebook(inbox / "bob smith" / ".ipynb_checkpoints" / "01_pixels.ipynb", [])
    _notebook(inbox / "carol" / "notes.ipynb", [])
    found = grading.find_submissions(inbox, ["01_pixels", "02_kernels"])
    assert [(s.student, s.lesson) for s in found] == [("alice", "01_pixels"),
                                                      ("bob_smith", "01_pixels")]


def test_csv_has_one_column_per_check_and_the_flags_last(tmp_path):
    rows = [{"student": "a", "lesson": "01_pixels", "check_x": 1, "total": 1,
             "max_score": 2, "flags": ""},
            {"student": "b", "lesson": "02_kernels", "check_y": 0, "total": 0,
             "max_score": 1, "flags": "calls exec"}]
    path = tmp_path / "grades.csv"
    grading.write_csv(rows, path)
    header = path.read_text().splitlines()[0].split(",")
    assert header == ["student", "lesson", "check_x", "check_y", "total", "max_score", "flags"]
    assert grading.read_csv(path)[1]["flags"] == "calls exec"


def test_every_lesson_is_found():
    assert grading.lessons() and all(name[:2].isdigit() for name in grading.lessons())


def test_unknown_lessons_are_named():
    with pytest.raises(ValueError, match="unknown lesson"):
        grading.release(["99_nothing"], out=None)


def test_importing_lab_utils_does_not_import_nbgrader():
    code = "import sys, lab_utils, lab_utils.grading; print('nbgrader' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
