"""Autograding under attack and carelessness (issue 11), on a tiny two-exercise fake lesson.

One batch (`grading.autograde`, sandboxed kernels) grades, side by side: a correct student,
students whose files are empty, truncated, not JSON, a symbolic link to the instructor's
notebook or to a binary file, a notes notebook, a copy-named file, two folders whose ids
collide (``Zoë``/``Zoé``), a copy-pasted graded cell, a student who tampers with the kit in
memory (fresh import must undo it), a hostile student (appends to ``lab_utils``, reads the
instructor's files, writes the gradebook, opens the network, maps 5 GB of shared memory,
leaves detached processes), and a slow student with a huge output line. Every one gets a row;
the correct ones keep full marks; nothing leaks or survives the batch.

Issue 19 adds: a third folder ``Zoë-4771a7`` (the old id of ``Zoë``), a student whose output is
live HTML and who adds a 50 MB markdown cell (the feedback page must stay small and inert), and
a second, small batch stopped with ``kill`` while a student's cell sleeps, then run again (the
decided row stays, no kernel is left, the re-run grades only the rest).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from lab_utils import feedback, grading

try:
    import nbgrader  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise
    pytest.skip("nbgrader is not installed (instructor extra)", allow_module_level=True)

from attacks import ATTACKS  # noqa: E402

from lab_utils import sandbox  # noqa: E402

if sandbox.available() and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
    pytest.skip(f"no grading sandbox here: {sandbox.available()}", allow_module_level=True)

pytestmark = pytest.mark.slow
LESSON = "01_fake"
KIT_FILE = grading.PROJECT / "lab_utils" / "pixels" / "compute.py"


def code(source, **nbgrader):
    metadata = {"nbgrader": {"schema_version": 3, **nbgrader}} if nbgrader else {}
    return {
        "cell_type": "code",
        "metadata": metadata,
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


GRAY = (
    "def to_grayscale(image):\n    ### BEGIN SOLUTION\n    return image[..., 0] * 0.2125"
    " + image[..., 1] * 0.7154 + image[..., 2] * 0.0721\n    ### END SOLUTION\n"
)
NORMALISE = (
    "def normalise(image):\n    ### BEGIN SOLUTION\n    return image / 255.0\n"
    "    ### END SOLUTION\n"
)
CELLS = [
    code("import numpy as np\nfrom lab_utils import pixels"),
    code(GRAY, solution=True, grade=False, locked=False, grade_id="ex_gray"),
    code(
        "pixels.check_to_grayscale(to_grayscale)",
        solution=False,
        grade=True,
        locked=True,
        grade_id="check_gray",
        points=2,
    ),
    code(NORMALISE, solution=True, grade=False, locked=False, grade_id="ex_normalise"),
    code(
        "pixels.check_normalise(normalise)",
        solution=False,
        grade=True,
        locked=True,
        grade_id="check_normalise",
        points=1,
    ),
]
LESSON_NOTEBOOK = {
    "cells": CELLS,
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
}


def solved():
    notebook = copy.deepcopy(LESSON_NOTEBOOK)
    for cell in notebook["cells"]:
        cell["source"] = "\n".join(
            line for line in cell["source"].splitlines() if "###" not in line
        )
    return notebook


def with_cell(notebook, source, index=None):
    notebook["cells"].insert(len(notebook["cells"]) if index is None else index, code(source))
    return notebook


def hostile_code(paths: dict, tag: str) -> str:
    """A cell that tries every escape and prints what worked as `REPORT {...}`."""
    return f"""
import json, mmap, os, socket, subprocess, sys
PATHS = {json.dumps(paths)}
report = {{}}
def attempt(name, action):
    try:
        action()
        report[name] = "DONE"
    except BaseException as error:
        report[name] = "blocked"
attempt("append_kit", lambda: open(PATHS["kit"], "a").write("\\n# always pass\\n"))
attempt("read_instructor", lambda: open(PATHS["instructor"], "rb").read(1))
attempt("read_course_source", lambda: open(PATHS["template_source"], "rb").read(1))
attempt("read_own_grading_folder", lambda: open(PATHS["own_folder"], "rb").read(1))
attempt("write_template_gradebook", lambda: open(PATHS["template_gradebook"], "ab").write(b"x"))
attempt("read_other_student", lambda: open(PATHS["other_student"], "rb").read(1))
attempt("write_project", lambda: open(PATHS["project_file"], "w").write("x"))
attempt("write_host_tmp", lambda: open(PATHS["host_tmp"], "w").write("x"))
attempt("network", lambda: socket.create_connection(("127.0.0.1", PATHS["port"]), timeout=3))
attempt("shared_memory_5gb", lambda: mmap.mmap(-1, 5 * 2**30))
subprocess.Popen(["sleep", "{tag}"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("REPORT " + json.dumps(report, sort_keys=True))
"""


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    work = tmp_path_factory.mktemp("safety")
    lessons, inbox, root, out = work / "lessons", work / "inbox", work / "course", work / "out"
    lessons.mkdir()
    instructor = lessons / f"{LESSON}.ipynb"
    instructor.write_text(json.dumps(LESSON_NOTEBOOK))

    def put(student, notebook, name=f"{LESSON}.ipynb"):
        folder = inbox / student
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(
            notebook if isinstance(notebook, str) else json.dumps(notebook), encoding="utf-8"
        )
        return path

    # Item 1: files that are not notebooks, each one row.
    put("empty", "")
    put("truncated", json.dumps(solved())[:200])
    put("not_json", "these are my answers")
    (inbox / "linked").mkdir(parents=True)
    (inbox / "linked" / f"{LESSON}.ipynb").symlink_to(instructor)  # item 4: a link
    (inbox / "binary").mkdir(parents=True)
    (inbox / "binary" / "answers.bin").write_bytes(bytes(range(256)) * 10)
    (inbox / "binary" / f"{LESSON}.ipynb").symlink_to(inbox / "binary" / "answers.bin")
    # Item 7: copies, odd names, colliding ids; a notes notebook is reported, not dropped.
    old_copy = put("solved", solved(), f"{LESSON} (1).ipynb")
    os.utime(old_copy, (time.time() - 3600, time.time() - 3600))
    put("solved", solved())
    put("solved", {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, "notes.ipynb")
    duplicated = solved()
    duplicated["cells"].append(copy.deepcopy(duplicated["cells"][4]))  # item 2
    put("Zoë", duplicated)
    put("Zoé", solved(), "01_fäke.ipynb")
    put("Zoë-4771a7", solved())  # issue 19: the old id of Zoë, taken by a literal folder
    # Issue 19: live HTML in an output and a 50 MB markdown cell must give a small, inert page.
    loud = with_cell(
        solved(), "from IPython.display import HTML, display\n" + f"display(HTML({LOUD_HTML!r}))"
    )
    loud["cells"].append(
        {"cell_type": "markdown", "metadata": {}, "source": "# big\n" + "w " * 25_000_000}
    )
    put("loud", loud)
    # Item 4: a wrong answer plus in-memory tampering with the kit before the check.
    cheater = solved()
    cheater["cells"][1]["source"] = (
        "def to_grayscale(image):\n    return image[..., 0] * 0\n"
        "vars(pixels).update(check_to_grayscale=lambda f: None)\n"
        "import sys, types\nsys.modules['lab_utils.pixels'] = "
        "types.SimpleNamespace(check_to_grayscale=lambda f: None)"
    )
    put("cheater", cheater)
    # Issue 19: every attack class on a check decided by the grader, as a graded submission.
    for index, attack in enumerate(sorted(ATTACKS)):
        attacker = solved()
        attacker["cells"][1]["source"] = ATTACKS[attack]
        put(f"attack_{index}", attacker)
    # Items 3 and 6: a hostile student.
    tag = f"{777 + (uuid.uuid4().int % 1000) / 1000:.3f}"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    host_tmp = Path("/tmp") / f"grading-escape-{uuid.uuid4().hex}"
    paths = {
        "kit": str(KIT_FILE),
        "instructor": str(grading.NOTEBOOKS / "01_pixels.ipynb"),
        "template_source": str(root / "template" / "source" / LESSON / f"{LESSON}.ipynb"),
        "own_folder": str(grading.graded_folder(root, LESSON, "hostile") / "sandbox.json"),
        "template_gradebook": str(root / "template" / "gradebook.db"),
        "other_student": str(inbox / "cheater" / f"{LESSON}.ipynb"),
        "project_file": str(grading.PROJECT / "escaped.txt"),
        "host_tmp": str(host_tmp),
        "port": listener.getsockname()[1],
    }
    put("hostile", with_cell(solved(), hostile_code(paths, tag)))
    # Item 5: many slow cells (each under the cell limit) and one huge line.
    slow = solved()
    for _ in range(4):  # 28 s of sleep against the notebook's 20 s: the third sleep is cut
        with_cell(slow, "import time\ntime.sleep(7)")
    with_cell(slow, "print('x' * 3_000_000)", index=1)
    put("slow_and_big", slow)

    kit_before = hashlib.sha256(KIT_FILE.read_bytes()).hexdigest()
    start = time.perf_counter()
    csv_path = grading.autograde(
        inbox,
        root=root,
        out=out,
        notebooks=lessons,
        timeout=60,
        notebook_timeout=20,
        memory=3_000_000_000,
    )
    seconds = time.perf_counter() - start
    listener.close()
    rows = grading.read_csv(csv_path)
    print(f"\n[grading] safety batch: {len(rows)} rows in {seconds:.0f} s")
    return {
        "rows": rows,
        "root": root,
        "out": out,
        "tag": tag,
        "host_tmp": host_tmp,
        "kit_before": kit_before,
        "by": {(r["student"], r["lesson"]): r for r in rows},
    }


LOUD_HTML = (
    "<script>alert(1)</script><img src=x onerror=alert(2)><a href='javascript:alert(3)'>x</a>"
)


def row(batch, student, lesson=LESSON):
    return batch["by"][(student, lesson)]


def executed(batch, student):
    return json.loads(grading.executed_notebook(batch["root"], LESSON, student).read_text())


def outputs_text(notebook):
    return "".join(
        output.get("text", "")
        if isinstance(output.get("text", ""), str)
        else "".join(output["text"])
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
    )


@pytest.mark.parametrize(
    "student, reason",
    [
        ("empty", "is empty"),
        ("truncated", "not a valid notebook"),
        ("not_json", "not a valid notebook"),
        ("linked", "symbolic link to a file outside"),
        ("binary", "not text"),
    ],
)
def test_a_bad_file_is_one_flagged_row_and_the_batch_goes_on(batch, student, reason):
    assert row(batch, student)["total"] == "0"
    assert reason in row(batch, student)["flags"]
    assert row(batch, "solved")["total"] == "3"


def test_the_correct_student_has_full_marks_and_only_the_copy_flag(batch):
    solved_row = row(batch, "solved")
    assert (solved_row["check_gray"], solved_row["check_normalise"]) == ("2", "1")
    assert "also submitted, older, not graded: 01_fake (1).ipynb" in solved_row["flags"]
    notes = row(batch, "solved", "notes")
    assert "not a lesson notebook" in notes["flags"]


@pytest.mark.parametrize("index, attack", list(enumerate(sorted(ATTACKS))))
def test_an_attack_on_the_check_scores_what_the_unsolved_exercise_scores(batch, index, attack):
    attacker = row(batch, f"attack_{index}")
    assert attacker["check_gray"] == "0", attack  # the attacked check: as if unsolved
    # the other, honest exercise keeps its point unless the attack itself broke later cells
    # (an input transformer that rewrites every cell also empties the normalise cell)
    assert attacker["check_normalise"] == ("0" if "transformer" in attack else "1"), attack


def test_colliding_ids_and_copied_cells_lose_no_work(batch):
    zoe = [r for r in batch["rows"] if r["folder"] in ("Zoë", "Zoé", "Zoë-4771a7")]
    assert len(zoe) == 3 and len({r["student"] for r in zoe}) == 3, zoe
    assert all(r["total"] == "3" and r["student"].startswith("Zoe") for r in zoe), zoe
    by_folder = {r["folder"]: r for r in zoe}
    assert "duplicate cell id check_normalise" in by_folder["Zoë"]["flags"]
    assert "graded as 01_fake (file named '01_fäke.ipynb')" in by_folder["Zoé"]["flags"]
    assert by_folder["Zoë-4771a7"]["flags"] == ""
    for r in zoe:
        assert (batch["out"] / "feedback" / r["student"] / f"{LESSON}.html").exists()


def test_feedback_pages_are_small_and_inert(batch):
    loud = row(batch, "loud")
    assert loud["total"] == "3"
    assert "has 50,000,006 characters: cut to the first 1,000,000 before grading" in loud["flags"]
    page = (batch["out"] / "feedback" / "loud" / f"{LESSON}.html").read_text(encoding="utf-8")
    assert len(page.encode()) < 500_000
    body = page.split("<body>", 1)[1].lower()
    assert "<script" not in body and "&lt;script&gt;" in body  # the source, as text
    assert not re.search(r"<[^>]*javascript:", body), "a javascript: URL in a tag"
    assert not re.search(r"<[^>]*\son\w+\s*=", body), "an on* attribute"
    assert "check_gray: 2 / 2 points" in body
    for path in (batch["out"] / "feedback").rglob("*.html"):
        assert path.stat().st_size < feedback.MAX_PAGE, path


def test_tampering_with_the_kit_in_memory_does_not_pass_a_wrong_answer(batch):
    cheater = row(batch, "cheater")
    assert cheater["check_gray"] == "0" and cheater["check_normalise"] == "1"


def test_a_hostile_kernel_reaches_nothing_and_leaves_nothing(batch):
    text = outputs_text(executed(batch, "hostile"))
    report = json.loads(text.split("REPORT ", 1)[1].splitlines()[0])
    assert report == dict.fromkeys(report, "blocked") | {"write_host_tmp": "DONE"}, report
    assert not batch["host_tmp"].exists(), "/tmp inside the sandbox must be private"
    assert not (grading.PROJECT / "escaped.txt").exists()
    assert hashlib.sha256(KIT_FILE.read_bytes()).hexdigest() == batch["kit_before"]
    survivors = subprocess.run(
        ["pgrep", "-f", f"sleep {batch['tag']}"], capture_output=True, text=True
    ).stdout.strip()
    assert survivors == "", "a detached child outlived its kernel"
    assert row(batch, "hostile")["total"] == "3"


def test_the_notebook_time_limit_and_the_output_byte_cap(batch):
    notebook = executed(batch, "slow_and_big")
    errors = [
        output.get("ename")
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    ]
    assert "CellTimeout" in errors, errors
    assert "[grader]" in outputs_text(notebook) and "output removed" in outputs_text(notebook)
    feedback = batch["out"] / "feedback" / "slow_and_big" / f"{LESSON}.html"
    assert feedback.stat().st_size < 2_000_000
    assert row(batch, "slow_and_big")["total"] == "3"


# --- issue 19: a stopped batch keeps its rows and a re-run resumes -------------------------


def _wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _running(pattern):
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).stdout.strip() != b""


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A batch stopped (``kill``) while its second student's kernel sleeps, then run again."""
    work = tmp_path_factory.mktemp("stopped")
    lessons, inbox, root, out = work / "lessons", work / "inbox", work / "course", work / "out"
    lessons.mkdir()
    (lessons / f"{LESSON}.ipynb").write_text(json.dumps(LESSON_NOTEBOOK))
    tag = f"{888 + (uuid.uuid4().int % 1000) / 1000:.3f}"
    sleeper = with_cell(solved(), f"import subprocess\nsubprocess.run(['sleep', '{tag}'])")
    for student, notebook in (("a_first", solved()), ("b_sleeper", sleeper), ("c_last", solved())):
        (inbox / student).mkdir(parents=True)
        (inbox / student / f"{LESSON}.ipynb").write_text(json.dumps(notebook))
    options = dict(root=str(root), notebooks=str(lessons))
    command = ["autograde", str(inbox), "--out", str(out), "--timeout", "60"]
    command += ["--notebook-timeout", "15"]
    call = (  # the command line, with the fake lesson's folders
        "import functools, sys; from lab_utils import grading; "
        f"grading.autograde = functools.partial(grading.autograde, **{options!r}); "
        f"sys.exit(grading.main({command!r}))"
    )
    process = subprocess.Popen([sys.executable, "-c", call], cwd=grading.PROJECT)
    try:
        _wait_for(lambda: _running(f"sleep {tag}"), 240, "the sleeping student's kernel")
        first_row = json.loads((out / "rows" / LESSON / "a_first.json").read_text())
        process.terminate()  # `kill`: SIGTERM, handled like Ctrl-C
        process.wait(timeout=60)
    finally:
        process.kill()
    after_stop = {r["student"]: r for r in grading.read_csv(out / "grades.csv")}
    _wait_for(lambda: not _running(f"sleep {tag}"), 30, "the kernel to die with the batch")
    csv_path = grading.autograde(inbox, out=out, timeout=60, notebook_timeout=15, **options)
    return {
        "returncode": process.returncode,
        "after_stop": after_stop,
        "first_row": first_row,
        "rows": {r["student"]: r for r in grading.read_csv(csv_path)},
        "saved": json.loads((out / "rows" / LESSON / "a_first.json").read_text()),
        "tag": tag,
        "root": root,
    }


def test_a_stopped_batch_keeps_the_decided_rows_and_leaves_no_kernel(stopped):
    assert stopped["returncode"] == 130  # "stopped: every row decided so far is in ..."
    rows = stopped["after_stop"]
    assert rows["a_first"]["total"] == "3"
    for student in ("b_sleeper", "c_last"):
        assert rows[student]["total"] == "" and "not graded yet" in rows[student]["flags"]
    assert not _running(f"sleep {stopped['tag']}")


def test_the_rerun_resumes_and_the_slow_student_costs_only_its_own_time(stopped):
    assert stopped["saved"] == stopped["first_row"], "a_first was graded again"
    rows = stopped["rows"]
    assert [rows[s]["total"] for s in ("a_first", "b_sleeper", "c_last")] == ["3", "3", "3"]
    executed = grading.executed_notebook(stopped["root"], LESSON, "b_sleeper")
    errors = [
        output.get("ename")
        for cell in json.loads(executed.read_text())["cells"]
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    ]
    assert set(errors) & {"CellTimeoutError", "KeyboardInterrupt"}, errors
