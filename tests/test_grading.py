"""Autograding round trip with nbgrader, offline, for every lesson in notebooks/.

For each lesson: release (nbgrader) -> fake submissions -> `grading.autograde` (checks decided
in the grader's process, lab_utils.trusted) -> scores read back from the grades CSV and,
independently, from the check cells of the executed notebook the feedback shows:

* solved (the instructor's solutions pasted in) -> full marks, no flags;
* untouched (the student version as released) -> 0, feedback that says what to do, and the
  notebook ran top to bottom with errors only in graded cells (NotImplementedError family):
  every exercise's fallback carries the lesson on;
* partly solved (only the first exercise) -> exactly the points of that exercise's checks.

The partly solved student and the edge-case battery (exception, infinite loop cut by the
timeout, 200,000 printed lines, NaN and wrong-shape answers, a deleted check cell, an edited
locked check cell, tampering) run on the first lesson only, in the same batch, to keep the
suite's time reasonable: the grading machinery is the same for every lesson, and solved plus
untouched already decide every check of every lesson both ways. (A partly solved lesson 06
cost about 3 minutes of the suite: its unsolved triplet loss trains the kit's fallback.)

Released notebooks are also checked as text: no solution code, no marker, no hidden test.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import time
from pathlib import Path

import pytest

from lab_utils import grading

LESSONS = grading.lessons()
FIRST_LESSON = LESSONS[0] if LESSONS else None
EDGE_TIMEOUT = 20  # seconds per cell for the battery's batch: the infinite loop burns a core this
# long (60 s before); lesson 01's slowest cell takes 1 s on an idle machine

try:
    import nbgrader  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError(
            "nbgrader is missing, and CI must run the grading tests: "
            "install requirements-instructor.txt"
        ) from None
    pytest.skip(
        "nbgrader is not installed (instructor extra: pip install -r "
        "requirements-instructor.txt -c constraints.txt)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.slow


# --- building fake submissions -----------------------------------------------------------


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _by_id(notebook, grade_id):
    return next(cell for cell in notebook["cells"] if _meta(cell).get("grade_id") == grade_id)


def _strip_markers(text):
    return "\n".join(
        line
        for line in text.splitlines()
        if line.strip() not in grading.SOLUTION_MARKERS + grading.HIDDEN_TEST_MARKERS
    )


def _solution_only_lines(source):
    """Stripped lines between the solution markers that do not also appear outside them."""
    inside, outside, within = set(), set(), False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == grading.SOLUTION_MARKERS[0]:
            within = True
        elif stripped == grading.SOLUTION_MARKERS[1]:
            within = False
        elif stripped:
            (inside if within else outside).add(stripped)
    return sorted(line for line in inside - outside if len(line) > 3)


def exercises_of(source_notebook):
    """[(solution grade_id, solved code, {check grade_id: points})] in notebook order.

    A check belongs to the closest solution cell above it (the AUTHORING.md pattern).
    """
    found = []
    for cell in source_notebook["cells"]:
        meta = _meta(cell)
        if meta.get("solution"):
            found.append((meta["grade_id"], _strip_markers(_source(cell)), {}))
        elif meta.get("grade") and found:
            found[-1][2][meta["grade_id"]] = meta.get("points", 0)
    return found


def solve(notebook, source_notebook, which=None):
    """A copy of the released notebook with the instructor's code in the chosen exercises."""
    notebook = copy.deepcopy(notebook)
    for index, (grade_id, code, _) in enumerate(exercises_of(source_notebook)):
        if which is None or index in which:
            _by_id(notebook, grade_id)["source"] = code
    return notebook


def _function_name(code):
    names = [node.name for node in ast.parse(code).body if isinstance(node, ast.FunctionDef)]
    assert names, "the edge-case battery expects exercises that define a function"
    return names[0]


def with_broken_function(notebook, exercise, body):
    """Append a wrapper that breaks exercise ``exercise``'s (solved) function."""
    grade_id, code, _ = exercise
    name = _function_name(code)
    cell = _by_id(notebook, grade_id)
    cell["source"] = (
        code + f"\n\nimport numpy as _np\n_original_{name} = {name}\n"
        f"def {name}(*args, **kwargs):\n"
        f"    result = _original_{name}(*args, **kwargs)\n    {body}\n"
    )
    return notebook


def code_cell(text):
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": text,
    }


def submissions_for(lesson, released, source, battery):
    """{student: (notebook, {check: expected points}, expected flags substring or None)}."""
    exercises = exercises_of(source)
    all_checks = {check: points for _, _, checks in exercises for check, points in checks.items()}
    zero = dict.fromkeys(all_checks, 0)
    first = exercises[0][2]
    students = {
        "solved": (solve(released, source), dict(all_checks), None),
        "untouched": (copy.deepcopy(released), zero, None),
    }
    if not battery:
        return students
    students["partial"] = (solve(released, source, which={0}), {**zero, **first}, None)
    e0, e1, e2 = exercises[:3]

    def points(*chosen):
        return {**zero, **{c: p for e in chosen for c, p in e[2].items()}}

    # 1. The first function raises; a stray top-level exception in an added cell.
    crashes = solve(released, source)
    with_broken_function(crashes, e0, 'raise ValueError("my bug")')
    index = crashes["cells"].index(_by_id(crashes, e0[0]))
    crashes["cells"].insert(index + 1, code_cell('raise RuntimeError("stray cell")'))
    students["crashes"] = (crashes, points(e1, e2), None)

    # 2. An infinite loop in the first exercise's cell (cut by the timeout, the rest still
    #    graded) and 200,000 printed lines in the second (cut by the output limit).
    loops = solve(released, source)
    _by_id(loops, e0[0])["source"] = "while True:\n    pass\n\n" + e0[1]
    _by_id(loops, e1[0])["source"] = e1[1] + "\n\nfor line in range(200_000):\n    print(line)\n"
    students["loops_and_prints"] = (loops, points(e1, e2), None)

    # 3. NaN from the first function, a wrong shape from the second.
    bad = solve(released, source)
    with_broken_function(bad, e0, "return _np.asarray(result, dtype=float) * _np.nan")
    with_broken_function(bad, e1, "return _np.asarray(result)[..., None]")
    students["bad_values"] = (bad, points(e2), None)

    # 4. Edits a locked check to `pass` (unsolved), deletes another check cell, and tampers:
    #    exec, a monkeypatched testing function and an input transformer.
    edits = solve(released, source, which={2})
    first_check = next(iter(e0[2]))
    _by_id(edits, first_check)["source"] = "pass  # nothing to see here"
    second_check = next(iter(e1[2]))
    edits["cells"].remove(_by_id(edits, second_check))
    edits["cells"].insert(
        1,
        code_cell(
            "import numpy\nnumpy.testing.assert_allclose = lambda *args, **kwargs: None\n"
            'exec("tampered = True")\n'
            "get_ipython().input_transformers_post.append(lambda lines: lines)\n"
        ),
    )
    students["edits_and_tampers"] = (edits, points(e2), "calls exec")
    return students


# --- the round trip, once per lesson ------------------------------------------------------


# `make test` grades lessons on different workers in parallel: conftest.py's scheduler keeps
# every test of one lesson where that lesson's batch was graded (no second batch).
@pytest.fixture(scope="module", params=LESSONS)
def graded(request, tmp_path_factory):
    lesson = request.param
    battery = lesson == FIRST_LESSON
    work = tmp_path_factory.mktemp(f"grading_{lesson}")
    root, inbox, out = work / "course", work / "inbox", work / "grades"

    start = time.perf_counter()
    released_path = grading.release([lesson], root=root, out=work / "release")[lesson]
    release_seconds = time.perf_counter() - start
    released = _load(released_path)
    source = _load(grading.NOTEBOOKS / f"{lesson}.ipynb")
    students = submissions_for(lesson, released, source, battery)
    for student, (notebook, _, _) in students.items():
        folder = inbox / student
        folder.mkdir(parents=True)
        (folder / f"{lesson}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")

    # The first lesson is graded as a course would (its lesson prepared first: instructor and
    # student versions). The others skip that step: the notebooks' nbval runs filled the
    # session's cache already, and preparing would run each lesson twice more (2-3 minutes).
    start = time.perf_counter()
    csv_path = grading.autograde(
        inbox, root=root, out=out, timeout=EDGE_TIMEOUT if battery else None, prepare=battery
    )
    seconds = time.perf_counter() - start
    print(
        f"\n[grading] {lesson}: release {release_seconds:.1f} s; autograde of "
        f"{len(students)} students {seconds:.1f} s ({seconds / len(students):.1f} s each)"
    )
    return {
        "lesson": lesson,
        "root": root,
        "out": out,
        "students": students,
        "rows": {row["student"]: row for row in grading.read_csv(csv_path)},
        "released": released,
        "released_path": released_path,
        "source": source,
    }


def _notebook_scores(graded, student):
    """{check: points} from the executed notebook: a check cell that shows the pass line
    earned its points (what the student reads in the feedback must agree with the CSV)."""
    lesson = graded["lesson"]
    ran = _load(grading.executed_notebook(graded["root"], lesson, student))
    points = {
        _meta(cell)["grade_id"]: _meta(cell).get("points", 0)
        for cell in graded["released"]["cells"]
        if _meta(cell).get("grade") and not _meta(cell).get("solution")
    }
    scores = dict.fromkeys(points, 0)
    for cell in ran["cells"]:
        grade_id = _meta(cell).get("grade_id")
        if grade_id in points:
            texts = [output.get("text", "") for output in cell.get("outputs", [])]
            scores[grade_id] = points[grade_id] if any("✔" in t for t in texts) else 0
    return scores


def _expect_scores(graded, student):
    _, expected, _ = graded["students"][student]
    scores = _notebook_scores(graded, student)
    assert scores == pytest.approx(expected), f"{student}: {scores} != {expected}"
    row = graded["rows"][student]
    assert float(row["total"]) == pytest.approx(sum(expected.values()))
    for check, points in expected.items():
        assert float(row[check]) == pytest.approx(points), (student, check)
    return row


def test_solved_gets_full_marks(graded):
    row = _expect_scores(graded, "solved")
    assert float(row["total"]) == float(row["max_score"]) > 0
    assert row["flags"] == ""


def test_untouched_gets_zero_with_readable_feedback(graded):
    row = _expect_scores(graded, "untouched")
    assert float(row["total"]) == 0 and row["flags"] == ""
    feedback = graded["out"] / "feedback" / "untouched" / f"{graded['lesson']}.html"
    text = feedback.read_text(encoding="utf-8")
    assert "not written yet" in text, "the feedback should tell the student what to do"


def test_untouched_notebook_runs_top_to_bottom(graded):
    """Only graded (or solution) cells fail, and only because an exercise is not written."""
    lesson, root = graded["lesson"], graded["root"]
    ran = _load(grading.executed_notebook(root, lesson, "untouched"))
    released_cells = graded["released"]["cells"]
    assert len(ran["cells"]) == len(released_cells)
    failing = []
    for index, (cell, original) in enumerate(zip(ran["cells"], released_cells)):
        for output in cell.get("outputs", []):
            if output["output_type"] != "error":
                continue
            meta = _meta(original)
            allowed = (meta.get("grade") or meta.get("solution")) and output["ename"] in (
                "NotImplementedError",
                "ExerciseNotStarted",
            )
            if not allowed:
                failing.append((index, output["ename"], output["evalue"][:200]))
    assert not failing, f"{lesson}: cells outside the exercises failed: {failing}"
    graded_errors = sum(
        1
        for cell in ran["cells"]
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    )
    assert graded_errors >= len(exercises_of(graded["source"]))


def test_released_notebook_has_no_solution_and_no_hidden_test(graded):
    text = graded["released_path"].read_text(encoding="utf-8")
    for marker in grading.SOLUTION_MARKERS + grading.HIDDEN_TEST_MARKERS:
        assert marker not in text
    released = graded["released"]
    for grade_id, _, _ in exercises_of(graded["source"]):
        student_cell = _source(_by_id(released, grade_id))
        assert "raise NotImplementedError" in student_cell
        for line in _solution_only_lines(_source(_by_id(graded["source"], grade_id))):
            assert line not in student_cell, f"{grade_id}: solution line {line!r} released"
    for cell in graded["source"]["cells"]:
        source = _source(cell)
        if grading.HIDDEN_TEST_MARKERS[0] in source:
            hidden = source.split(grading.HIDDEN_TEST_MARKERS[0])[1].split(
                grading.HIDDEN_TEST_MARKERS[1]
            )[0]
            for line in filter(None, (line.strip() for line in hidden.splitlines())):
                assert line not in text, f"hidden test line {line!r} released"
    assert all(not cell.get("outputs") for cell in released["cells"] if cell["cell_type"] == "code")


# --- the edge-case battery (first lesson only) -------------------------------------------

EDGE_STUDENTS = ["crashes", "loops_and_prints", "bad_values", "edits_and_tampers"]


@pytest.fixture
def battery(graded):
    return graded


first_lesson_only = pytest.mark.parametrize("graded", [FIRST_LESSON], indirect=True)


@first_lesson_only
@pytest.mark.parametrize("student", EDGE_STUDENTS)
def test_edge_case_is_graded_without_crashing_the_batch(battery, student):
    row = _expect_scores(battery, student)
    expected_flag = battery["students"][student][2]
    if expected_flag:
        assert expected_flag in row["flags"]
    feedback = battery["out"] / "feedback" / student / f"{battery['lesson']}.html"
    assert feedback.exists()
    assert feedback.stat().st_size < 5_000_000, "the output limit should keep feedback small"


@first_lesson_only
def test_the_infinite_loop_was_cut_by_the_timeout(battery):
    lesson = battery["lesson"]
    ran = _load(grading.executed_notebook(battery["root"], lesson, "loops_and_prints"))
    enames = [output.get("ename") for cell in ran["cells"] for output in cell.get("outputs", [])]
    assert "CellTimeout" in enames
    printed = [
        _source({"source": output["text"]})
        for cell in ran["cells"]
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream"
    ]
    assert max(text.count("\n") for text in printed) <= 1000, "output limit not applied"


@first_lesson_only
def test_tampering_is_flagged_in_the_csv(battery):
    flags = battery["rows"]["edits_and_tampers"]["flags"]
    for expected in (
        "calls exec",
        "monkeypatches numpy.testing.assert_allclose",
        "uses get_ipython",
        "input_transformers_post",
        "edited locked cell",
        "deleted graded cell",
    ):
        assert expected in flags, f"{expected!r} missing from {flags!r}"
    for student in ("solved", "untouched", "partial", "crashes", "bad_values"):
        assert battery["rows"][student]["flags"] == "", student


@first_lesson_only
def test_partly_solved_gets_exactly_the_solved_exercises_points(battery):
    row = _expect_scores(battery, "partial")
    assert 0 < float(row["total"]) < float(row["max_score"])
