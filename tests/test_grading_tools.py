"""The parts of lab_utils.grading that need no nbgrader: tamper flags, submission discovery, CSV.

Fast unit tests; the nbgrader round trip itself is tests/test_grading.py.
"""

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid

import pytest

from lab_utils import grading


def _notebook(path, cells):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    return path


def _code(source, **nbgrader):
    metadata = {"nbgrader": {"schema_version": 3, **nbgrader}} if nbgrader else {}
    return {
        "cell_type": "code",
        "metadata": metadata,
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


RELEASED_CELLS = [
    _code("import numpy as np\nfrom lab_utils import pixels"),
    _code(
        "def to_grayscale(image):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
        solution=True,
        grade=False,
        locked=False,
        grade_id="ex_gray",
    ),
    _code(
        "pixels.check_to_grayscale(to_grayscale)",
        solution=False,
        grade=True,
        locked=True,
        grade_id="check_gray",
        points=1,
    ),
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


@pytest.mark.parametrize(
    "code, expected",
    [
        (HONEST + "\nexec('x = 1')", "calls exec"),
        (HONEST + "\nvalue = eval('1 + 1')", "calls eval"),
        (
            HONEST + "\nnp.testing.assert_allclose = lambda *a, **k: None",
            "monkeypatches np.testing.assert_allclose",
        ),
        (HONEST + "\nsetattr(np, 'allclose', lambda *a, **k: True)", "monkeypatches with setattr"),
        (
            HONEST + "\npixels.check_to_grayscale = lambda function: None",
            "monkeypatches pixels.check_to_grayscale",
        ),
        (HONEST + "\ndef check_to_grayscale(function):\n    pass", "redefines check_to_grayscale"),
        (HONEST + "\npixels = None", "redefines pixels"),
        (
            HONEST + "\nget_ipython().input_transformers_post.append(lambda lines: lines)",
            "input_transformers_post",
        ),
        (HONEST + "\nip = get_ipython()", "uses get_ipython"),
        (
            HONEST + "\nfrom unittest import mock\nmock.patch('numpy.allclose').start()",
            "monkeypatches with unittest.mock",
        ),
        (HONEST + "\nimport builtins", "imports builtins"),
        (HONEST + "\n!curl http://example.com", "shell command"),
        (HONEST + "\n%load_ext cheat", "magic %load_ext"),
        # issue 11, item 4: reaching the checks without their names
        (HONEST + "\nvars(pixels).update(check_to_grayscale=print)", "uses vars() on an object"),
        (
            HONEST + "\nimport sys, types\nsys.modules['lab_utils.pixels'] = types.ModuleType('x')",
            "touches sys.modules",
        ),
        (
            HONEST
            + "\nclass Always(np.ndarray):\n    def __eq__(self, other):\n        return True",
            "subclasses ndarray",
        ),
        (HONEST + "\nclass Sneaky(float):\n    pass", "subclasses float"),
        (HONEST + "\nimport sys\nframe = sys._getframe(1).f_back", "reads interpreter frames"),
        (
            HONEST + "\nfrom skimage import color\nf = getattr(color, 'rgb' + '2gray')",
            "getattr with a computed name",
        ),
        (HONEST + "\nip = globals()['get_' + 'ipython']()", "uses globals()"),
        (HONEST + "\nimport os\nos.system('true')", "imports os"),
    ],
)
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
    assert [(s.student, s.lesson) for s in found if not s.problem] == [
        ("alice", "01_pixels"),
        (grading.student_id("bob smith"), "01_pixels"),
    ]
    assert grading.student_id("bob smith").startswith("bob_smith+")
    notes = [s for s in found if s.problem]
    assert [(s.student, s.lesson) for s in notes] == [("carol", "notes")]
    assert "not a lesson notebook" in notes[0].problem


def test_odd_file_names_and_copies_are_matched_and_flagged(tmp_path):
    inbox = tmp_path / "inbox"
    older = _notebook(inbox / "dan" / "01_pixels (1).ipynb", [])
    os.utime(older, (1, 1))
    _notebook(inbox / "dan" / "01_pixels.ipynb", [])
    _notebook(inbox / "eve" / "01_pïxels.ipynb", [])
    found = {s.student: s for s in grading.find_submissions(inbox, ["01_pixels"])}
    assert found["dan"].path.name == "01_pixels.ipynb"
    assert any(
        "also submitted, older, not graded: 01_pixels (1).ipynb" in flag
        for flag in found["dan"].flags
    )
    assert found["eve"].lesson == "01_pixels" and not found["eve"].problem
    assert any("graded as 01_pixels" in flag for flag in found["eve"].flags)


# Issue 19, item 4: under the old scheme `Zoë` and `Zoé` both became `Zoe`, were suffixed
# `Zoe-<sha1[:6]>` = `Zoe-4771a7` for Zoë, and the literal folder `Zoë-4771a7` took that id too:
# one student's work vanished with no row.
ZOES = ["Zoé", "Zoë", "Zoë-4771a7"]


def test_folders_whose_names_fold_together_keep_distinct_ids_and_all_their_work(tmp_path):
    inbox = tmp_path / "inbox"
    for name in ZOES:
        _notebook(inbox / name / "01_pixels.ipynb", [_code(f"# {name}")])
    found = grading.find_submissions(inbox, ["01_pixels"])
    assert sorted(s.folder for s in found) == sorted(ZOES)
    assert len({s.student for s in found}) == 3
    for submission in found:
        assert submission.path.parent.name == submission.folder  # each id has its own work
        assert "+" in submission.student and submission.student.isascii()
        assert not submission.problem and submission.flags == []


@pytest.mark.parametrize(
    "plain", ["alice", "bob_smith", "Zoe-4771a7", "x.y@uni.edu", "s123", "A" * 64]
)
def test_plain_ascii_folder_names_are_their_own_ids(plain):
    assert grading.student_id(plain) == plain


@pytest.mark.parametrize(
    "name",
    [*ZOES, "bob smith", ".hidden", "-rf", "..x", "a" * 65, "Zoe+4771a7c2", "名前", "", "é"],
)
def test_every_other_name_gets_a_generated_id_that_no_plain_name_can_have(name):
    generated = grading.student_id(name)
    slug, separator, digest = generated.rpartition("+")
    assert separator == "+" and len(digest) == 8 and slug and "+" not in slug
    assert generated.isascii() and "/" not in generated and not generated.startswith((".", "-"))
    assert generated != name  # a folder literally named like an id gets another one
    assert grading.student_id(generated) != generated


def test_two_folders_mapping_to_one_id_stop_the_batch_before_anything_is_graded(
    tmp_path, monkeypatch
):
    lessons, inbox = _fake_lessons(tmp_path), tmp_path / "inbox"
    for name in ("Zoë", "Zoé"):
        _notebook(inbox / name / "01_fake.ipynb", [])
    monkeypatch.setattr(grading, "student_id", lambda name: "Zoe")  # a hash collision
    monkeypatch.setattr(grading, "release", _must_not_run)
    monkeypatch.setattr(grading, "grade_submission", _must_not_run)
    with pytest.raises(ValueError, match="would share the student id 'Zoe'"):
        grading.autograde(
            inbox,
            root=tmp_path / "course",
            out=tmp_path / "out",
            notebooks=lessons,
            isolation=False,
        )
    assert not (tmp_path / "out" / "grades.csv").exists()


@pytest.mark.parametrize(
    "content, reason",
    [
        ("", "is empty"),
        ('{"cells": [', "not a valid notebook"),
        ("not json at all", "not a valid notebook"),
        ('{"cells": 3}', "not a valid notebook"),
        (b"\xff\xfe\x00binary", "not text"),
    ],
)
def test_a_file_that_is_not_a_notebook_is_refused_with_the_reason(tmp_path, content, reason):
    path = tmp_path / "student" / "01_pixels.ipynb"
    path.parent.mkdir()
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    submission = grading.Submission("student", "01_pixels", path)
    with pytest.raises(ValueError, match=reason):
        grading.read_submission(submission, path.parent)


def test_symbolic_links_out_of_the_student_folder_are_refused(tmp_path):
    instructor = _notebook(tmp_path / "notebooks" / "01_pixels.ipynb", RELEASED_CELLS)
    link = tmp_path / "inbox" / "mallory" / "01_pixels.ipynb"
    link.parent.mkdir(parents=True)
    link.symlink_to(instructor)
    submission = grading.Submission("mallory", "01_pixels", link)
    with pytest.raises(ValueError, match="symbolic link to a file outside"):
        grading.read_submission(submission, link.parent)
    inside = _notebook(tmp_path / "inbox" / "mallory" / "work" / "mine.ipynb", RELEASED_CELLS)
    link.unlink()
    link.symlink_to(inside)  # a link inside the student's own folder is fine
    assert len(grading.read_submission(submission, link.parent).cells) == 3
    linked_folder = tmp_path / "inbox" / "trudy"
    linked_folder.symlink_to(instructor.parent)  # a whole folder linked to the instructor's
    submission = grading.Submission("trudy", "01_pixels", linked_folder / "01_pixels.ipynb")
    with pytest.raises(ValueError, match="student folder 'trudy' is a symbolic link"):
        grading.read_submission(submission, linked_folder)


def test_duplicate_grade_ids_keep_one_graded_copy():
    import nbformat

    notebook = nbformat.from_dict(
        {
            "cells": [dict(cell) for cell in RELEASED_CELLS]
            + [json.loads(json.dumps(RELEASED_CELLS[2]))],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )
    flags = grading.repair_duplicate_ids(notebook)
    assert flags == [
        "duplicate cell id check_gray (a copied graded cell): only the last copy is graded"
    ]
    ids = [cell["metadata"].get("nbgrader", {}).get("grade_id") for cell in notebook.cells]
    assert ids.count("check_gray") == 1 and ids[-1] == "check_gray"


def test_a_damaged_gradebook_is_set_aside(tmp_path):
    (tmp_path / "gradebook.db").write_text("garbage, not SQLite")
    grading._set_aside_damaged_gradebook(tmp_path)
    assert not (tmp_path / "gradebook.db").exists()
    assert len(list(tmp_path.glob("gradebook.db.damaged-*"))) == 1


def test_csv_has_the_folder_one_column_per_check_and_the_flags(tmp_path):
    rows = [
        {
            "student": "a",
            "lesson": "01_pixels",
            "check_x": 1,
            "total": 1,
            "max_score": 2,
            "flags": "",
        },
        {
            "student": "b",
            "lesson": "02_kernels",
            "check_y": 0,
            "total": 0,
            "max_score": 1,
            "flags": "calls exec",
        },
    ]
    path = tmp_path / "grades.csv"
    grading.write_csv(rows, path)
    header = path.read_text().splitlines()[0].split(",")
    assert header == [
        "student",
        "folder",
        "lesson",
        "check_x",
        "check_y",
        "total",
        "max_score",
        "flags",
    ]
    assert grading.read_csv(path)[1]["flags"] == "calls exec"


def test_every_lesson_is_found():
    assert grading.lessons() and all(name[:2].isdigit() for name in grading.lessons())


def test_unknown_lessons_are_named():
    with pytest.raises(ValueError, match="unknown lesson"):
        grading.release(["99_nothing"], out=None)


def test_importing_lab_utils_does_not_import_nbgrader():
    code = "import sys, lab_utils, lab_utils.grading; print('nbgrader' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- the kernel sandbox and the nbgrader plug-ins ------------------------------------------


def _sandbox_or_skip():
    from lab_utils import sandbox

    reason = sandbox.available()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise RuntimeError(f"CI must be able to sandbox grading kernels: {reason}")
        pytest.skip(reason)
    return sandbox


def test_the_sandbox_hides_the_course_locks_the_kit_and_kills_what_is_left(tmp_path):
    sandbox = _sandbox_or_skip()
    start, scratch, mark = tmp_path / "start", tmp_path / "scratch", uuid.uuid4().hex
    start.mkdir()
    (start / "given.txt").write_text("from the grader")
    config = tmp_path / "sandbox.json"
    config.write_text(
        json.dumps(
            {
                "scratch": str(scratch),
                "memory": 2_000_000_000,
                "read_only": [sys.prefix, sys.base_prefix, str(grading.PROJECT / "lab_utils")],
            }
        )
    )
    probe = f"""
import json, mmap, os, socket, subprocess
seen = {{}}
def attempt(name, action):
    try:
        action(); seen[name] = "DONE"
    except BaseException:
        seen[name] = "blocked"
attempt("read_notebooks", lambda: os.listdir({str(grading.NOTEBOOKS)!r}))
attempt("read_grader_file", lambda: open({str(config)!r}).read())
attempt("append_kit", lambda: open({str(grading.PROJECT / "lab_utils" / "pixels" / "compute.py")!r}, "a"))
attempt("network", lambda: socket.create_connection(("127.0.0.1", 22), timeout=2))
attempt("map_3gb", lambda: mmap.mmap(-1, 3 * 2**30))
attempt("write_start", lambda: open("given.txt", "a").write("changed"))
attempt("write_tmp", lambda: open("/tmp/x", "w").write("x"))
attempt("write_elsewhere", lambda: open({str(grading.PROJECT / "escaped.txt")!r}, "w"))
subprocess.Popen(["python3", "-c", "import time; time.sleep(600)", "{mark}"],
                 start_new_session=True)
__import__("time").sleep(0.5)
seen["given"] = open("given.txt").read()
print(json.dumps(seen, sort_keys=True))
"""
    result = subprocess.run(
        sandbox.command(config, [sys.executable, "-c", probe]),
        cwd=start,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "read_notebooks": "blocked",
        "read_grader_file": "blocked",
        "append_kit": "blocked",
        "network": "blocked",
        "map_3gb": "blocked",
        "write_start": "DONE",
        "write_tmp": "DONE",
        "write_elsewhere": "blocked",
        "given": "from the graderchanged",
    }
    assert (start / "given.txt").read_text() == "from the grader", "writes must stay inside"
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", mark], capture_output=True, text=True).stdout
    assert left.strip() == "", "a detached child outlived the sandbox"


def test_the_sandbox_dies_with_the_process_that_started_it(tmp_path):
    """nbgrader killed for its time limit must take its kernel (own session) along."""
    sandbox = _sandbox_or_skip()
    config, mark = tmp_path / "sandbox.json", uuid.uuid4().hex
    config.write_text(
        json.dumps(
            {"scratch": str(tmp_path / "scratch"), "read_only": [sys.prefix, sys.base_prefix]}
        )
    )
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)", mark]
    launcher = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen({sandbox.command(config, sleeper)!r}, "
        "start_new_session=True)\ntime.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", launcher], cwd=tmp_path)
    try:
        for _ in range(100):
            time.sleep(0.2)
            if subprocess.run(["pgrep", "-f", mark], capture_output=True).stdout:
                break
        else:
            pytest.fail("the sandboxed command did not start")
    finally:
        parent.kill()
        parent.wait()
    for _ in range(50):
        time.sleep(0.2)
        if not subprocess.run(["pgrep", "-f", mark], capture_output=True).stdout:
            break
    assert not subprocess.run(["pgrep", "-f", mark], capture_output=True).stdout, (
        "the sandbox outlived the process that started it"
    )


# --- issue 19: no batch loses grades, ids, small and safe feedback ------------------------


def _fake_lessons(tmp_path):
    lessons = tmp_path / "lessons"
    _notebook(lessons / "01_fake.ipynb", RELEASED_CELLS)
    return lessons


def _must_not_run(*args, **kwargs):
    raise AssertionError("nothing may be released or graded")


class FakeGrader:
    """Stands in for nbgrader: records who was graded, writes an executed notebook, and can
    stop the batch (KeyboardInterrupt) when it reaches a given student."""

    def __init__(self, stop_at=None, fail_at=None):
        self.graded, self.stop_at, self.fail_at = [], stop_at, fail_at

    def release(self, names, *, root, out=None, notebooks=None):
        return {
            name: _notebook(root / "release" / f"{name}.ipynb", RELEASED_CELLS) for name in names
        }

    def grade(self, submission, template, root, *, released, **options):
        if submission.student == self.stop_at:
            raise KeyboardInterrupt
        if submission.student == self.fail_at:
            raise RuntimeError("the grader's own bug")
        self.graded.append(submission.student)
        points = 1 if "right" in submission.path.read_text() else 0
        check = _code(
            "pixels.check_to_grayscale(to_grayscale)",
            grade=True,
            solution=False,
            grade_id="check_gray",
            points=1,
        )
        _notebook(grading.executed_notebook(root, submission.lesson, submission.student), [check])
        return {
            "student": submission.student,
            "lesson": submission.lesson,
            "check_gray": points,
            "total": points,
            "max_score": 1,
            "flags": "",
        }


def _batch(tmp_path, monkeypatch, grader, **options):
    monkeypatch.setattr(grading, "release", grader.release)
    monkeypatch.setattr(grading, "grade_submission", grader.grade)
    return grading.autograde(
        tmp_path / "inbox",
        root=tmp_path / "course",
        out=tmp_path / "out",
        notebooks=tmp_path / "lessons",
        isolation=False,
        **options,
    )


def _inbox(tmp_path, students):
    _fake_lessons(tmp_path)
    for student in students:
        _notebook(tmp_path / "inbox" / student / "01_fake.ipynb", [_code("right")])


def test_a_stopped_batch_keeps_every_decided_row_and_a_rerun_grades_only_the_rest(
    tmp_path, monkeypatch
):
    _inbox(tmp_path, ["ann", "ben", "cat", "dov"])
    grader = FakeGrader(stop_at="cat")
    with pytest.raises(KeyboardInterrupt):
        _batch(tmp_path, monkeypatch, grader)
    out = tmp_path / "out"
    rows = {row["student"]: row for row in grading.read_csv(out / "grades.csv")}
    assert (rows["ann"]["total"], rows["ben"]["total"]) == ("1", "1")
    assert rows["cat"]["total"] == "" and "not graded yet" in rows["cat"]["flags"]
    assert "not graded yet" in rows["dov"]["flags"]
    assert sorted(p.name for p in (out / "rows" / "01_fake").iterdir()) == ["ann.json", "ben.json"]
    assert (out / "feedback" / "ben" / "01_fake.html").exists()
    saved = json.loads((out / "rows" / "01_fake" / "ann.json").read_text())
    assert saved["sha256"] == grading.file_sha256(tmp_path / "inbox" / "ann" / "01_fake.ipynb")

    grader = FakeGrader()
    _batch(tmp_path, monkeypatch, grader)
    assert grader.graded == ["cat", "dov"], "a re-run resumes: saved rows are not graded again"
    rows = {row["student"]: row for row in grading.read_csv(out / "grades.csv")}
    assert [rows[s]["total"] for s in ("ann", "ben", "cat", "dov")] == ["1"] * 4
    assert all(row["flags"] == "" for row in rows.values())


def test_a_changed_submission_is_regraded_and_regrade_grades_everyone(tmp_path, monkeypatch):
    _inbox(tmp_path, ["ann", "ben"])
    _batch(tmp_path, monkeypatch, FakeGrader())
    _notebook(tmp_path / "inbox" / "ben" / "01_fake.ipynb", [_code("wrong")])
    grader = FakeGrader()
    csv_path = _batch(tmp_path, monkeypatch, grader)
    assert grader.graded == ["ben"]
    assert {r["student"]: r["total"] for r in grading.read_csv(csv_path)} == {
        "ann": "1",
        "ben": "0",
    }
    grader = FakeGrader()
    _batch(tmp_path, monkeypatch, grader, notebook_timeout=60)  # other settings: graded again
    assert grader.graded == ["ann", "ben"]
    grader = FakeGrader()
    _batch(tmp_path, monkeypatch, grader, notebook_timeout=60, regrade=True)
    assert grader.graded == ["ann", "ben"]
    grader = FakeGrader()
    _batch(tmp_path, monkeypatch, grader, notebook_timeout=60)
    assert grader.graded == []


def test_an_error_while_grading_one_student_is_that_student_s_row_only(tmp_path, monkeypatch):
    _inbox(tmp_path, ["ann", "ben", "cat"])
    csv_path = _batch(tmp_path, monkeypatch, FakeGrader(fail_at="ben"))
    rows = {row["student"]: row for row in grading.read_csv(csv_path)}
    assert (rows["ann"]["total"], rows["cat"]["total"]) == ("1", "1")
    assert rows["ben"]["total"] == "0"
    assert "grading failed (RuntimeError: the grader's own bug)" in rows["ben"]["flags"]
    grader = FakeGrader()
    _batch(tmp_path, monkeypatch, grader)
    assert grader.graded == ["ben"], "the grader's own failure is tried again on a re-run"


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "grades.csv"
    grading.write_csv([{"student": "a", "lesson": "01", "total": 1}], path)
    before = path.read_text()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(grading.os, "replace", crash)
    with pytest.raises(OSError):
        grading.write_csv([{"student": "b", "lesson": "01", "total": 0}], path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]


def test_stopping_the_grader_kills_the_whole_nbgrader_process_group(tmp_path):
    import signal

    mark = f"sleep {600 + uuid.uuid4().int % 1000}.5"
    script = f"import subprocess, time; subprocess.Popen('{mark}'.split()); time.sleep(600)"

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.alarm(2)
    try:
        with pytest.raises(KeyboardInterrupt):
            grading.run_group([sys.executable, "-c", script])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    for _ in range(50):
        if not subprocess.run(["pgrep", "-f", mark], capture_output=True).stdout:
            break
        time.sleep(0.1)
    assert not subprocess.run(["pgrep", "-f", mark], capture_output=True).stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_nbgrader_dies_with_a_grader_killed_outright():
    tag = uuid.uuid4().hex
    mark = f"orphan-{tag}"  # in the child's command line only, not in the grader's
    grader = (
        "import sys; from lab_utils import grading; "
        f"grading.run_group([sys.executable, '-c', 'import time; time.sleep(600)', 'orphan-' + {tag!r}])"
    )
    parent = subprocess.Popen([sys.executable, "-c", grader])
    try:
        for _ in range(100):
            if subprocess.run(["pgrep", "-f", mark], capture_output=True).stdout:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the child did not start")
    finally:
        parent.kill()  # SIGKILL: no exception handler runs in the grader
        parent.wait()
    for _ in range(50):
        if not subprocess.run(["pgrep", "-f", mark], capture_output=True).stdout:
            break
        time.sleep(0.1)
    assert not subprocess.run(["pgrep", "-f", mark], capture_output=True).stdout


def _make_dry_run(*arguments):
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "autograde", "SUBMISSIONS=/nowhere", *arguments],
        cwd=grading.PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_make_autograde_has_no_batch_kill_and_keeps_the_sandboxed_batch():
    sandboxed = _make_dry_run("SANDBOX=1")
    # as root a plain network namespace (the kernels then run as an unprivileged id)
    namespace = "unshare  --net" if os.getuid() == 0 else "unshare --map-root-user --net"
    assert namespace in sandboxed and "nice -n 10" in sandboxed
    assert "timeout" not in sandboxed.replace("--notebook-timeout", "")
    assert "GRADING_TIME" not in (grading.PROJECT / "Makefile").read_text()
    assert _make_dry_run("REGRADE=1").endswith("--regrade")
    assert "--regrade" not in _make_dry_run()


def test_a_huge_cell_is_cut_and_flagged_when_the_submission_is_read():
    import nbformat

    notebook = nbformat.from_dict(
        {
            "cells": [
                {"cell_type": "markdown", "metadata": {}, "source": "x" * 50_000_000},
                dict(RELEASED_CELLS[0]),
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )
    flags = grading.cap_cells(notebook)
    assert len(notebook.cells[0].source) == grading.MAX_CELL_CHARACTERS
    assert flags == [
        "cell 1 (markdown) has 50,000,000 characters: cut to the first 1,000,000 before grading"
    ]
    assert notebook.cells[1].source == RELEASED_CELLS[0]["source"]


def _feedback_notebook(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _output_cell(*outputs, source="display(x)", **nbgrader):
    cell = _code(source, **nbgrader)
    cell["outputs"] = list(outputs)
    return cell


def test_a_50_mb_markdown_cell_gives_a_small_feedback_page():
    from lab_utils import feedback

    huge = {"cell_type": "markdown", "metadata": {}, "source": "# big\n" + "word " * 10_000_000}
    page = feedback.feedback_page(_feedback_notebook(huge, _code("1 + 1")))
    assert len(page.encode()) < 200_000
    assert "characters cut: the first 100,000 are shown" in page
    assert "1 + 1" in page


HOSTILE_HTML = (
    "<script>alert(1)</script><img src=x onerror=alert(2)><a href='javascript:alert(3)'>a</a>"
    "<a href='JaVaScRiPt:alert(4)'>b</a><svg onload=alert(5)></svg><iframe src='https://x'>"
    "</iframe><div onclick='alert(6)' style='position:fixed'>c</div><style>*{}</style>"
    "<img src='https://tracker.example/p.png'><a href='data:text/html,<script>'>d</a>"
    "<form action='https://x'><input name=p></form><object data='x'></object>"
    "<meta http-equiv='refresh' content='0;url=https://x'><base href='https://x/'>"
)


def test_html_in_outputs_and_markdown_cannot_run_or_load_anything():
    from lab_utils import feedback

    page = feedback.feedback_page(
        _feedback_notebook(
            {"cell_type": "markdown", "metadata": {}, "source": "hi " + HOSTILE_HTML},
            _output_cell(
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"text/html": HOSTILE_HTML, "text/plain": "<HTML>"},
                },
                {
                    "output_type": "execute_result",
                    "metadata": {},
                    "execution_count": 1,
                    "data": {"text/markdown": HOSTILE_HTML},
                },
                source="display(HTML('<script>alert(1)</script>'))",
            ),
        )
    )
    body = page.split("<body>", 1)[1].lower()
    for forbidden in (
        "<script",
        "<iframe",
        "<svg",
        "<style",
        "<form",
        "<object",
        "<meta",
        "<base",
        "javascript:",
        "data:text",
        "https://tracker",
        "position:fixed",
    ):
        assert forbidden not in body, forbidden
    assert not re.search(r"<[^>]*\son\w+\s*=", body), "an on* attribute survived"
    assert not re.search(r"<[^>]*javascript:", body), "a javascript: URL survived"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # the source, shown as text
    assert "default-src 'none'" in page.split("<body>", 1)[0]


def test_outputs_are_shown_readably_and_capped():
    from lab_utils import feedback

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(100)).decode()
    cell = _output_cell(
        {"output_type": "stream", "name": "stdout", "text": ["line one\n", "line two\n"]},
        {"output_type": "stream", "name": "stdout", "text": "y" * 300_000},
        {
            "output_type": "error",
            "ename": "ValueError",
            "evalue": "\x1b[31mto_grayscale is not written yet\x1b[0m",
            "traceback": ["\x1b[0;31mValueError\x1b[0m: deep"],
        },
        {"output_type": "display_data", "metadata": {}, "data": {"image/png": png}},
        {
            "output_type": "execute_result",
            "metadata": {},
            "execution_count": 2,
            "data": {"text/plain": "array([1, 2])"},
        },
        source="pixels.check_to_grayscale(to_grayscale)",
        grade=True,
        solution=False,
        grade_id="check_gray",
        points=2,
    )
    page = feedback.feedback_page(
        _feedback_notebook(cell), scores={"check_gray": 0}, total=0, max_score=2
    )
    assert "line one\nline two" in page and "array([1, 2])" in page
    assert "ValueError: to_grayscale is not written yet" in page and "\x1b" not in page
    assert f'src="data:image/png;base64,{png}"' in page
    assert "this output of 300,000 characters cut" in page and "y" * 100_001 not in page
    assert "check_gray: 0 / 2 points" in page and "Score: 0 / 2" in page


def test_the_page_stays_under_its_cap_and_still_shows_the_graded_cells():
    from lab_utils import feedback

    big = {"output_type": "stream", "name": "stdout", "text": "z" * 99_000}
    filler = [_output_cell(*[big] * 5) for _ in range(40)]  # about 20 MB of output
    check = _output_cell(
        {
            "output_type": "error",
            "ename": "AssertionError",
            "evalue": "wrong answer",
            "traceback": [],
        },
        source="assert double(3) == 6",
        grade=True,
        solution=False,
        grade_id="check_double",
        points=1,
    )
    page = feedback.feedback_page(_feedback_notebook(*filler, check), scores={"check_double": 0})
    assert len(page.encode()) <= feedback.MAX_PAGE
    assert "check_double: 0 / 1 points" in page and "wrong answer" in page
    assert "more output(s) not shown" in page
    many = [_code("q" * 2_000) for _ in range(5_000)]  # 10 MB of sources
    page = feedback.feedback_page(_feedback_notebook(*many, check), scores={"check_double": 0})
    assert len(page.encode()) <= feedback.MAX_PAGE and "wrong answer" in page
    assert "cell(s) not shown (page size limit)" in page
