"""Grading across machines (issue 24 item 4): `make autograde SHARD=i/N` (or the scheduler's task
index) grades a share of the students; `merge` joins the shards as one run would have written them.

Fast: nbgrader and the kernels are replaced by test_grading_tools' FakeGrader."""

import subprocess

import pytest
from test_grading_tools import FakeGrader, _code, _inbox, _notebook

from lab_utils import grading

STUDENTS = ["ann", "ben", "cat", "dov", "eve", "fay", "gus"]


def _grade(tmp_path, monkeypatch, name, shard=None):
    grader = FakeGrader()
    monkeypatch.setattr(grading, "release", grader.release)
    monkeypatch.setattr(grading, "grade_submission", grader.grade)
    grading.autograde(
        tmp_path / "inbox",
        root=tmp_path / "course" / name,
        out=tmp_path / name,
        notebooks=tmp_path / "lessons",
        isolation=False,
        prepare=False,  # the fake lesson trains nothing
        shard=shard,
    )
    return grader.graded


def _files(folder):
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.parts[-2:][0] != "rows" and path.name != "merge.txt"
    }


@pytest.fixture
def inbox(tmp_path):
    _inbox(tmp_path, STUDENTS)
    # one wrong answer, and one notebook that is not a lesson (a row with a problem)
    _notebook(tmp_path / "inbox" / "cat" / "01_fake.ipynb", [_code("wrong")])
    _notebook(tmp_path / "inbox" / "dov" / "notes.ipynb", [_code("x = 1")])
    return tmp_path / "inbox"


def test_two_shards_merged_equal_one_run(tmp_path, monkeypatch, inbox):
    everyone = _grade(tmp_path, monkeypatch, "one-run")
    first = _grade(tmp_path, monkeypatch, "shard-1", shard=(1, 2))
    second = _grade(tmp_path, monkeypatch, "shard-2", shard=(2, 2))
    assert sorted(first + second) == sorted(everyone) and not set(first) & set(second)
    assert first and second, "seven students split into two non-empty shards"
    csv_path, problems = grading.merge_shards(
        [tmp_path / "shard-1", tmp_path / "shard-2"],
        tmp_path / "merged",
        inbox,
        tmp_path / "lessons",
    )
    assert problems == []
    single = grading.read_csv(tmp_path / "one-run" / "grades.csv")
    assert grading.read_csv(csv_path) == single
    assert {row["student"]: row["total"] for row in single if row["lesson"] == "01_fake"} == {
        **dict.fromkeys(STUDENTS, "1"),
        "cat": "0",
    }
    merged, one_run = _files(tmp_path / "merged"), _files(tmp_path / "one-run")
    feedback = {name: page for name, page in one_run.items() if name.startswith("feedback")}
    assert len(feedback) == len(STUDENTS)
    assert {name: merged[name] for name in feedback} == feedback, "same feedback pages"
    rows = sorted(p.name for p in (tmp_path / "merged" / "rows" / "01_fake").iterdir())
    assert rows == [f"{student}.json" for student in STUDENTS]


def test_merge_flags_a_student_missing_or_graded_twice(tmp_path, monkeypatch, inbox):
    _grade(tmp_path, monkeypatch, "shard-1", shard=(1, 2))
    _grade(tmp_path, monkeypatch, "shard-1-again", shard=(1, 2))
    shard_one = [row["student"] for row in grading.read_csv(tmp_path / "shard-1" / "grades.csv")]
    csv_path, problems = grading.merge_shards(
        [tmp_path / "shard-1", tmp_path / "shard-1-again"],
        tmp_path / "merged",
        inbox,
        tmp_path / "lessons",
    )
    text = "\n".join(problems)
    assert "shards 2 of 2 are missing" in text
    assert "shard 1/2 given twice" in text
    rows = {(row["student"], row["lesson"]): row for row in grading.read_csv(csv_path)}
    others = sorted(set(STUDENTS) - set(shard_one))
    assert others, "shard 2 had students"
    for student in others:
        assert "missing: no shard graded" in rows[(student, "01_fake")]["flags"]
        assert rows[(student, "01_fake")]["total"] == ""
    for student in set(shard_one) & set(STUDENTS):
        assert "graded twice" in rows[(student, "01_fake")]["flags"]
    assert (tmp_path / "merged" / "merge.txt").read_text().count("\n") == len(problems)


def test_an_unfinished_shard_is_reported(tmp_path, monkeypatch, inbox):
    _grade(tmp_path, monkeypatch, "shard-1", shard=(1, 2))
    _grade(tmp_path, monkeypatch, "shard-2", shard=(2, 2))
    (tmp_path / "shard-2" / "shard.json").unlink()  # a shard that never started properly
    _, problems = grading.merge_shards([tmp_path / "shard-1", tmp_path / "shard-2"], tmp_path / "m")
    assert any("not a finished shard" in p for p in problems)
    assert any("shards 2 of 2 are missing" in p for p in problems)


@pytest.mark.parametrize(
    "text, environ, expected",
    [
        ("2/4", {}, (2, 4)),
        (" 1 / 1 ", {}, (1, 1)),
        ("", {}, None),
        ("auto", {"JOB_COMPLETION_INDEX": "0", "LAB_UTILS_SHARDS": "3"}, (1, 3)),
        ("auto", {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "5"}, (5, 5)),
        (
            "auto",
            {
                "SLURM_ARRAY_TASK_ID": "5",
                "SLURM_ARRAY_TASK_MIN": "1",
                "SLURM_ARRAY_TASK_COUNT": "5",
            },
            (5, 5),
        ),
    ],
)
def test_shards_from_the_command_line_or_the_scheduler(text, environ, expected):
    assert grading.parse_shard(text, environ) == expected


@pytest.mark.parametrize(
    "text, environ, message",
    [
        ("0/2", {}, "1 <= i <= N"),
        ("3/2", {}, "1 <= i <= N"),
        ("auto", {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "5"}, "1 <= i <= N"),
        ("half", {}, "i/N"),
        ("auto", {}, "JOB_COMPLETION_INDEX"),
        ("auto", {"JOB_COMPLETION_INDEX": "1"}, "LAB_UTILS_SHARDS"),
        ("auto", {"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"}, "whole numbers"),
    ],
)
def test_bad_shards_are_refused_with_the_reason(text, environ, message):
    with pytest.raises(ValueError, match=message):
        grading.parse_shard(text, environ)


def test_every_student_is_in_exactly_one_shard():
    students = [f"student{k}" for k in range(300)]
    for count in (1, 2, 7):
        shares = [
            [s for s in students if grading.in_shard(s, (i, count))] for i in range(1, count + 1)
        ]
        assert sorted(sum(shares, [])) == sorted(students)
        assert min(map(len, shares)) > 300 / count * 0.7, "roughly even"


def test_make_autograde_passes_the_shard_and_merge_grades_exists():
    def dry(*arguments):
        result = subprocess.run(
            ["make", "-n", "--no-print-directory", *arguments],
            cwd=grading.PROJECT,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1]

    line = dry("autograde", "SUBMISSIONS=/nowhere", "SHARD=auto", "REGRADE=1")
    assert "--shard auto" in line and line.endswith("--regrade")
    assert "--shard" not in dry("autograde", "SUBMISSIONS=/nowhere")
    assert "lab_utils.grading merge" in dry("merge-grades")


def test_the_command_line_refuses_a_bad_shard(capsys):
    with pytest.raises(SystemExit):
        grading.main(["autograde", "/nowhere", "--shard", "5/2"])
    assert "1 <= i <= N" in capsys.readouterr().err
