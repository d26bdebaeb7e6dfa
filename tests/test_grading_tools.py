"""The parts of lab_utils.grading that need no nbgrader: tamper flags, submission discovery, CSV.

Fast unit tests; the nbgrader round trip itself is tests/test_grading.py.
"""

import json
import os
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
        ("bob_smith", "01_pixels"),
    ]
    notes = [s for s in found if s.problem]
    assert [(s.student, s.lesson) for s in notes] == [("carol", "notes")]
    assert "not a lesson notebook" in notes[0].problem


def test_odd_file_names_copies_and_colliding_folders_lose_no_work(tmp_path):
    inbox = tmp_path / "inbox"
    older = _notebook(inbox / "dan" / "01_pixels (1).ipynb", [])
    os.utime(older, (1, 1))
    _notebook(inbox / "dan" / "01_pixels.ipynb", [])
    _notebook(inbox / "eve" / "01_pïxels.ipynb", [])
    _notebook(inbox / "Zoë" / "01_pixels.ipynb", [])
    _notebook(inbox / "Zoé" / "01_pixels.ipynb", [])
    found = {s.student: s for s in grading.find_submissions(inbox, ["01_pixels"])}
    assert found["dan"].path.name == "01_pixels.ipynb"
    assert any(
        "also submitted, older, not graded: 01_pixels (1).ipynb" in flag
        for flag in found["dan"].flags
    )
    assert found["eve"].lesson == "01_pixels" and not found["eve"].problem
    assert any("graded as 01_pixels" in flag for flag in found["eve"].flags)
    zoe = sorted(name for name in found if name.startswith("Zoe"))
    assert len(zoe) == 2 and all(name.startswith("Zoe-") for name in zoe)
    assert {found[name].folder for name in zoe} == {"Zoë", "Zoé"}
    assert all(any("share the id Zoe" in flag for flag in found[name].flags) for name in zoe)


def test_student_ids_are_ascii():
    assert grading.student_id("bob smith") == "bob_smith"
    assert grading.student_id("Zoë") == "Zoe"
    assert grading.student_id("..") == "student"


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


def test_csv_has_one_column_per_check_and_the_flags_last(tmp_path):
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
    assert header == ["student", "lesson", "check_x", "check_y", "total", "max_score", "flags"]
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


def test_graded_checks_re_import_the_kit_fresh_and_put_it_back():
    hooks = pytest.importorskip("lab_utils.autograde_hooks")
    cell = "seen.append(pixels.check_to_grayscale)\nseen.append(pixels)"
    wrapped = hooks.fresh_prefix(cell)
    assert 'pixels = __grader_importlib.import_module("lab_utils.pixels")' in wrapped
    assert hooks.fresh_prefix("assert double(3) == 6") == ""
    import lab_utils.exercises as exercises_before
    import lab_utils.pixels as before

    namespace = {"seen": [], "pixels": before}
    original = before.check_to_grayscale
    try:
        before.check_to_grayscale = lambda function: None  # what a student could do
        exec(wrapped, namespace)
        checked_with, fresh = namespace["seen"]
        assert fresh is not before and checked_with is not before.check_to_grayscale
        assert namespace["pixels"] is before, "later cells must see the lesson's own module"
        assert sys.modules["lab_utils.pixels"] is before
        assert sys.modules["lab_utils.exercises"] is exercises_before
    finally:
        before.check_to_grayscale = original  # later tests use the real check
    failing = hooks.fresh_prefix("raise ValueError(pixels.__name__)")
    with pytest.raises(ValueError):
        exec(failing, {"pixels": before})
    assert sys.modules["lab_utils.pixels"] is before


def test_outputs_over_the_byte_limit_are_replaced_by_a_note():
    hooks = pytest.importorskip("lab_utils.autograde_hooks")
    import nbformat

    cell = nbformat.v4.new_code_cell("print('x' * 3_000_000)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="x" * 3_000_000),
        nbformat.v4.new_output("stream", name="stdout", text="small\n"),
        nbformat.v4.new_output(
            "error", ename="ValueError", evalue="y" * 2_000_000, traceback=["z" * 2_000_000]
        ),
    ]
    limiter = hooks.LimitOutputBytes(max_bytes=100_000)
    cell, _ = limiter.preprocess_cell(cell, {}, 0)
    assert len(json.dumps(cell.outputs)) < 10_000
    assert "[grader] an output of" in cell.outputs[0]["text"]
    assert cell.outputs[1]["text"] == "small\n"
    assert cell.outputs[2]["output_type"] == "error"  # a failing check still scores 0


def test_the_notebook_time_limit_shortens_the_last_cells(monkeypatch):
    hooks = pytest.importorskip("lab_utils.autograde_hooks")
    monkeypatch.setattr(hooks, "_started", [])
    monkeypatch.setenv("LAB_UTILS_CELL_TIMEOUT", "300")
    monkeypatch.setenv("LAB_UTILS_NOTEBOOK_TIMEOUT", "100")
    assert hooks.notebook_timeout() == 100
    hooks._started[0] -= 95
    assert hooks.notebook_timeout() == 5
    hooks._started[0] -= 50
    assert hooks.notebook_timeout() == 1  # past the limit: each cell still gets a second
