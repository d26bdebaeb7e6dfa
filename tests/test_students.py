"""lab_utils.students: the copies `make lab` opens for students (no solutions, never overwritten)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab_utils import students

PROJECT = Path(__file__).resolve().parent.parent


def _code(notebook) -> list[str]:
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_strip_solutions_keeps_the_signature_and_indentation():
    source = (
        'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return 2 * x\n'
        "    ### END SOLUTION\n"
    )
    assert students.strip_solutions(source) == (
        'def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'
    )
    hidden = "check(f)\n### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\n"
    assert students.strip_solutions(hidden) == "check(f)\n"
    with pytest.raises(ValueError, match="never closed"):
        students.strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_every_lesson_is_copied_without_solutions_or_outputs(tmp_path):
    created = students.make_copies(tmp_path)
    lessons = sorted(path.name for path in (PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(created) == lessons and set(created.values()) == {"created"}
    for name in lessons:
        original = json.loads((PROJECT / "notebooks" / name).read_text(encoding="utf-8"))
        copy = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        assert len(copy["cells"]) == len(original["cells"])
        text = "\n".join(_code(copy))
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        solutions = sum("### BEGIN SOLUTION" in source for source in _code(original))
        assert text.count("raise NotImplementedError()") >= solutions
        for before, after in zip(original["cells"], copy["cells"]):
            if "BEGIN SOLUTION" not in "".join(before["source"]):  # everything else unchanged
                assert before["source"] == after["source"]
            if after["cell_type"] == "code":
                assert after["outputs"] == [] and after["execution_count"] is None


def test_a_student_s_work_is_never_overwritten(tmp_path):
    students.make_copies(tmp_path)
    mine = tmp_path / "01_pixels.ipynb"
    mine.write_text('{"my": "work"}', encoding="utf-8")
    (tmp_path / "02_kernels.ipynb").unlink()
    result = students.make_copies(tmp_path)
    assert result["01_pixels.ipynb"] == "kept" and result["02_kernels.ipynb"] == "created"
    assert mine.read_text(encoding="utf-8") == '{"my": "work"}'


def test_make_lab_opens_the_student_copies_and_instructor_lab_the_solutions():
    lab = subprocess.run(
        ["make", "-n", "lab"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout
    assert "-m lab_utils.students my-lessons" in lab
    assert re.search(r"--ServerApp\.root_dir=my-lessons\b", lab)
    instructor = subprocess.run(
        ["make", "-n", "instructor-lab"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout
    assert "--ServerApp.root_dir=notebooks" in instructor
    assert "my-lessons/" in (PROJECT / ".gitignore").read_text()


def test_help_prints_the_usage_and_creates_nothing(tmp_path, capsys):
    # Issue 21: `--help` used to become a folder named "--help" holding all six lessons.
    with pytest.raises(SystemExit) as exit_code:
        students.main(["--help"])
    assert exit_code.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal
    assert "usage: lab-utils-lessons" in out and "FOLDER" in out and "never overwritten" in out
    command = subprocess.run(
        [sys.executable, "-m", "lab_utils.students", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert command.returncode == 0 and "usage:" in command.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_argument_is_refused_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_code:
        students.main([str(tmp_path / "a"), str(tmp_path / "b")])
    assert exit_code.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("mine", encoding="utf-8")
    with pytest.raises(SystemExit):
        students.main([str(not_a_folder)])
    assert "is a file, not a folder" in capsys.readouterr().err
    assert not_a_folder.read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_the_command_line_copies_into_the_folder_named(tmp_path, capsys):
    assert students.main([str(tmp_path / "course")]) == 0
    copies = sorted(p.name for p in (tmp_path / "course").glob("*.ipynb"))
    assert copies == sorted(p.name for p in (PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert "jupyter lab" in capsys.readouterr().out


def test_with_solutions_copies_the_lessons_as_written(tmp_path):
    assert students.main([str(tmp_path), "--with-solutions"]) == 0
    for path in sorted((PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert json.loads((tmp_path / path.name).read_text(encoding="utf-8")) == json.loads(
            path.read_text(encoding="utf-8")
        )
