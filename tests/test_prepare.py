"""lab_utils.prepare: every lesson's trainings put into the cache once; filling a class's shared
folder (data files, permissions, the lessons' kernels' environment) and the grading kernels' view."""

import json
import os
import stat

import pytest

from lab_utils import data, grading, prepare


def test_lessons_are_chosen_by_name_or_number():
    assert [p.stem for p in prepare.lesson_paths(["01", "03_perceptrons"])] == [
        "01_pixels",
        "03_perceptrons",
    ]
    assert len(prepare.lesson_paths()) == len(list(prepare.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")))
    with pytest.raises(ValueError, match="no lesson '09'"):
        prepare.lesson_paths(["09"])


@pytest.mark.slow
def test_preparing_a_lesson_runs_it_without_errors(capsys):
    assert prepare.main(["01"]) == 0
    assert "01_pixels:" in capsys.readouterr().out


def _cell(source, **nbgrader):
    metadata = {"nbgrader": {"grade_id": source[:8], **nbgrader}} if nbgrader else {}
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata,
        "outputs": [],
        "source": source,
    }


def _fake_lesson(folder, after=""):
    """A lesson whose exercise drives what a later cell does (as 06's triplet loss drives its
    training): each run leaves a file named after the answer it used."""
    cells = [
        _cell(
            "def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION",
            solution=True,
            grade=False,
        ),
        _cell("answer()", grade=True, solution=False, points=1),  # the check: fails unsolved
        _cell(
            "try:\n    value = answer()\nexcept NotImplementedError:\n    value = 'fallback'\n"
            "open(f'ran_{value}.txt', 'w').close()" + after
        ),
    ]
    path = folder / "01_fake.ipynb"
    path.write_text(
        json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    return path


@pytest.mark.slow
def test_preparing_runs_the_instructor_and_the_student_version(tmp_path):
    """The student version's fallbacks are prepared too (graders then load them); its unsolved
    exercise is not an error, any other failure is."""
    result = prepare.prepare(_fake_lesson(tmp_path))
    assert result["errors"] == []
    assert (tmp_path / "ran_42.txt").exists() and (tmp_path / "ran_fallback.txt").exists()
    broken = prepare.prepare(_fake_lesson(tmp_path, after="\nassert value == 42"))
    assert broken["errors"] == ["AssertionError: "]  # the student version's own cell failed


def test_lessons_in_another_folder_are_chosen_by_name_or_number(tmp_path):
    for name in ("01_one", "02_two", "10_ten"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    (tmp_path / "notes.ipynb").write_text("{}")
    assert [p.stem for p in prepare.lesson_paths(None, tmp_path)] == ["01_one", "02_two", "10_ten"]
    assert [p.stem for p in prepare.lesson_paths(["02", "01_one"], tmp_path)] == [
        "02_two",
        "01_one",
    ]
    with pytest.raises(ValueError, match="no lesson '07'.*01_one"):
        prepare.lesson_paths(["07"], tmp_path)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    source = tmp_path / "tiny.bin"
    source.write_bytes(b"tiny data")
    monkeypatch.setitem(
        data.DATA_FILES, "tiny", data.DataFile("tiny.bin", data.sha256_of(source), "anywhere")
    )
    return source


def test_share_data_files_copies_what_the_cache_holds_and_says_what_is_missing(
    cache, tiny, tmp_path, monkeypatch
):
    monkeypatch.delenv("LAB_UTILS_SHARED", raising=False)
    shared = tmp_path / "shared"
    shared.mkdir()
    lines = prepare.share_data_files(shared)
    assert any(line.startswith("tiny: not in the cache") for line in lines)
    assert not (shared / "tiny.bin").exists()
    data.add_data_file("tiny", tiny)
    assert any(line.startswith("tiny: copied") for line in prepare.share_data_files(shared))
    assert (shared / "tiny.bin").read_bytes() == b"tiny data"
    assert any(line.startswith("tiny: already") for line in prepare.share_data_files(shared))
    (shared / "tiny.bin").write_bytes(b"damaged")  # replaced by a good copy on the next fill
    prepare.share_data_files(shared)
    assert (shared / "tiny.bin").read_bytes() == b"tiny data"


def test_the_shared_folder_is_made_readable_and_not_writable_by_others(tmp_path):
    folder = tmp_path / "shared"
    (folder / "trained").mkdir(parents=True)
    entry = folder / "trained" / "x.json"
    entry.write_text("{}")
    os.chmod(entry, 0o600)
    os.chmod(folder / "trained", 0o770)
    prepare.readable_by_everyone(folder)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o644
    assert stat.S_IMODE((folder / "trained").stat().st_mode) == 0o755


def test_filling_trains_into_the_shared_folder_and_restores_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_UTILS_CACHE", "/personal")
    monkeypatch.setenv("LAB_UTILS_SHARED", "/elsewhere")
    with prepare._cache_in(tmp_path):
        assert os.environ["LAB_UTILS_CACHE"] == str(tmp_path)
        assert "LAB_UTILS_SHARED" not in os.environ, "a fill never reads another shared folder"
    assert os.environ["LAB_UTILS_CACHE"] == "/personal"
    assert os.environ["LAB_UTILS_SHARED"] == "/elsewhere"


def test_add_data_into_a_shared_folder_from_the_command_line(cache, tiny, tmp_path, capsys):
    shared = tmp_path / "srv"
    assert prepare.main(["--add-data", "tiny", str(tiny), "--shared", str(shared)]) == 0
    assert (shared / "tiny.bin").read_bytes() == b"tiny data"
    assert not (cache / "tiny.bin").exists()
    assert stat.S_IMODE((shared / "tiny.bin").stat().st_mode) == 0o644
    assert prepare.main(["--add-data", "nothing", str(tiny)]) == 2
    assert "choose one of" in capsys.readouterr().err


def test_grading_kernels_read_the_shared_folder_read_only(tmp_path, monkeypatch, cache):
    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.setenv("LAB_UTILS_SHARED", str(shared))
    (tmp_path / "graded").mkdir()
    config = json.loads(
        grading._sandbox_config(tmp_path / "graded", tmp_path / "runtime", None).read_text()
    )
    assert str(shared.resolve()) in config["read_only"]
    assert config["environment"]["LAB_UTILS_SHARED"] == str(shared.resolve())
    assert str(shared) not in config["overlay"]
    monkeypatch.delenv("LAB_UTILS_SHARED")
    config = json.loads(
        grading._sandbox_config(tmp_path / "graded", tmp_path / "runtime", None).read_text()
    )
    assert "LAB_UTILS_SHARED" not in config["environment"]
