"""lab_utils.prepare: every lesson's trainings put into the cache once."""

import pytest

from lab_utils import prepare


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
