"""The read-only shared layer (LAB_UTILS_SHARED, issue 24): data files and trained weights that an
instructor fills once and every kernel reads before its own cache; damaged entries (issue 22)."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from lab_utils import data, lesson, models, prepare

OLIVETTI = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / data.OLIVETTI_FILE


def snapshot(folder: Path) -> dict:
    """Every file under ``folder``: relative path -> (sha256, modification time in ns)."""
    return {
        str(path.relative_to(folder)): (data.sha256_of(path), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """An empty shared folder that LAB_UTILS_SHARED names."""
    folder = tmp_path / "shared"
    folder.mkdir()
    monkeypatch.setenv("LAB_UTILS_SHARED", str(folder))
    return folder


# --- data files --------------------------------------------------------------------------------


@pytest.fixture
def tiny_file(tmp_path, monkeypatch):
    """A registered one-file dataset 'tiny' (tiny.bin) and a good copy of its file."""
    source = tmp_path / "given" / "tiny.bin"
    source.parent.mkdir()
    source.write_bytes(b"the real tiny file")
    entry = data.DataFile("tiny.bin", data.sha256_of(source), "from the course's USB stick")
    monkeypatch.setitem(data.DATA_FILES, "tiny", entry)
    return source


def test_shared_folder_is_unset_or_named(monkeypatch, tmp_path):
    monkeypatch.delenv("LAB_UTILS_SHARED", raising=False)
    assert data.shared_dir() is None
    monkeypatch.setenv("LAB_UTILS_SHARED", str(tmp_path / "missing"))
    assert data.shared_dir() is None, "a folder that is not there is not a shared folder"
    monkeypatch.setenv("LAB_UTILS_SHARED", str(tmp_path))
    assert data.shared_dir() == tmp_path


def test_data_files_come_from_the_shared_folder_first_then_the_cache(
    cache, shared, tiny_file, capsys
):
    entry = data.DATA_FILES["tiny"]
    assert data.find_data_file(entry.filename, entry.sha256) is None
    data.add_data_file("tiny", tiny_file)  # into the personal cache
    assert data.find_data_file(entry.filename, entry.sha256) == cache / "tiny.bin"
    data.add_data_file("tiny", tiny_file, shared)
    assert data.find_data_file(entry.filename, entry.sha256) == shared / "tiny.bin"
    (shared / "tiny.bin").write_bytes(b"damaged")
    before = snapshot(shared)
    assert data.find_data_file(entry.filename, entry.sha256) == cache / "tiny.bin"
    assert "shared copy" in capsys.readouterr().out
    assert snapshot(shared) == before, "a damaged shared file is reported, never moved"


def test_add_data_refuses_a_wrong_file_and_names_what_is_expected(cache, tiny_file, tmp_path):
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"something else")
    with pytest.raises(ValueError, match="not the expected file for 'tiny'.*USB stick"):
        data.add_data_file("tiny", wrong)
    with pytest.raises(ValueError, match="choose one of"):
        data.add_data_file("digits", tiny_file)
    with pytest.raises(FileNotFoundError, match="no file at"):
        data.add_data_file("tiny", tmp_path / "nothing.bin")
    assert not (cache / "tiny.bin").exists()


def test_prepare_add_data_command(cache, tiny_file, tmp_path, capsys):
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"something else")
    assert prepare.main(["--add-data", "tiny", str(wrong)]) == 2
    assert "refused" in capsys.readouterr().err and not (cache / "tiny.bin").exists()
    assert prepare.main(["--add-data", "tiny", str(tiny_file)]) == 0
    assert (cache / "tiny.bin").read_bytes() == tiny_file.read_bytes()


@pytest.mark.skipif(not OLIVETTI.exists(), reason="../shared/data/olivetti_py3.pkz not present")
def test_olivetti_offline_from_the_shared_folder_writes_nothing(cache, shared, monkeypatch):
    monkeypatch.setenv("LAB_UTILS_OFFLINE", "1")
    assert data.load_dataset("olivetti_faces").substitute  # neither folder has it
    assert (
        prepare.main(["--add-data", "olivetti_faces", str(OLIVETTI), "--shared", str(shared)]) == 0
    )
    before = snapshot(shared)
    faces = data.load_dataset("olivetti_faces")
    assert not faces.substitute and faces.images.shape == (400, 64, 64)
    assert str(shared) in faces.note
    assert snapshot(shared) == before and not list(cache.iterdir())


def test_the_substitute_says_how_to_provide_the_real_faces(cache, monkeypatch):
    monkeypatch.setenv("LAB_UTILS_OFFLINE", "1")
    monkeypatch.delenv("LAB_UTILS_SHARED", raising=False)
    faces = data.load_dataset("olivetti_faces")
    assert faces.substitute and "--add-data olivetti_faces" in faces.note


# --- trained weights -----------------------------------------------------------------------


def _tiny_training():
    rng = np.random.default_rng(0)
    images = rng.random((24, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 2, 24)
    lesson.import_keras().utils.set_random_seed(0)
    return models.cnn_classifier((8, 8, 1), 2, filters=(4,)), images, labels


def _train():
    model, images, labels = _tiny_training()
    return models.train(model, images, labels, epochs=1, batch_size=8)


def _entry_files(folder):
    return sorted(p.name for p in (folder / "trained").glob("*") if not p.name.startswith("."))


@pytest.fixture
def trained(tmp_path, monkeypatch):
    """A training done once into a folder that becomes the shared one: (folder, weights)."""
    folder = tmp_path / "filled"
    monkeypatch.setenv("LAB_UTILS_CACHE", str(folder))
    monkeypatch.delenv("LAB_UTILS_SHARED", raising=False)
    result = _train()
    assert not result.from_cache
    return folder, [w.copy() for w in result.model.get_weights()]


@pytest.mark.slow  # trains a model: seconds to tens of seconds on a loaded machine
def test_weights_come_from_the_shared_folder_and_nothing_is_written(
    trained, cache, monkeypatch, capsys
):
    folder, weights = trained
    monkeypatch.setenv("LAB_UTILS_SHARED", str(folder))
    before = snapshot(folder)
    result = _train()
    assert result.from_cache and "from the shared folder" in capsys.readouterr().out
    for got, want in zip(result.model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    assert snapshot(folder) == before
    assert not (cache / "trained").exists() or not _entry_files(cache)


@pytest.mark.slow
def test_a_damaged_shared_entry_is_reported_left_alone_and_trained_privately(
    trained, cache, monkeypatch, capsys
):
    folder, weights = trained
    for path in (folder / "trained").glob("*.weights.h5"):
        path.write_bytes(b"not hdf5")
    monkeypatch.setenv("LAB_UTILS_SHARED", str(folder))
    before = snapshot(folder)
    result = _train()
    out = capsys.readouterr().out
    assert not result.from_cache and "shared training cache entry" in out and "damaged" in out
    assert snapshot(folder) == before, "the shared folder is never written"
    assert len(_entry_files(cache)) == 2, "the student's own cache got the training"
    for got, want in zip(result.model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)  # the same training as the instructor's


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage",
    ["no seconds", "not json", "history not a dict", "weights swapped"],
)
def test_a_damaged_personal_entry_is_reported_set_aside_and_trained_again(
    trained, monkeypatch, capsys, damage
):
    folder, weights = trained
    facts_path = next((folder / "trained").glob("*.json"))
    facts = json.loads(facts_path.read_text())
    if damage == "no seconds":
        del facts["seconds"]  # issue 22: was a raw KeyError
    elif damage == "history not a dict":
        facts["history"] = [1, 2]
    elif damage == "weights swapped":
        facts["weights_sha256"] = "0" * 64
    facts_path.write_text("{not json" if damage == "not json" else json.dumps(facts))
    result = _train()
    out = capsys.readouterr().out
    assert not result.from_cache and "damaged training cache entry" in out
    assert sorted(p.name for p in (folder / "trained").glob("*.damaged")) == sorted(
        name + ".damaged" for name in (facts_path.name, facts_path.name[:-5] + ".weights.h5")
    )
    for got, want in zip(result.model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    assert _train().from_cache, "the new entry is whole"


# --- a lesson run against a filled shared folder -----------------------------------------------

LESSON = """\
from lab_utils import models, lesson
import numpy as np
rng = np.random.default_rng(0)
images = rng.random((24, 8, 8)).astype(np.float32)
labels = rng.integers(0, 2, 24)
lesson.import_keras().utils.set_random_seed(0)
results = []
for filters in [(4,), (6,)]:
    model = models.cnn_classifier((8, 8, 1), 2, filters=filters)
    results.append(models.train(model, images, labels, epochs=1, batch_size=8))
print("trained:", sum(not r.from_cache for r in results))
"""


@pytest.mark.slow  # two kernels: about 20-40 s on a loaded 2-core machine
def test_a_lesson_with_the_shared_layer_and_an_empty_cache_trains_nothing(
    tmp_path, monkeypatch, capsys
):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LESSON)])
    nbformat.write(notebook, lessons / "01_tiny.ipynb")
    shared, personal = tmp_path / "srv" / "lab_utils", tmp_path / "home" / "cache"
    monkeypatch.setenv("LAB_UTILS_CACHE", str(tmp_path / "instructor"))
    monkeypatch.delenv("LAB_UTILS_SHARED", raising=False)
    # The instructor: `make prepare SHARED=...` (the lessons' kernels inherit the environment)
    assert prepare.main(["--notebooks", str(lessons), "--shared", str(shared)]) == 0
    filled = capsys.readouterr().out
    assert "01_tiny: " in filled and "0 training(s) already cached; ok" in filled
    assert len(_entry_files(shared)) == 4, "two trainings, two files each"
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in shared.rglob("*") if p.is_file())
    before = snapshot(shared)
    # A student's kernel: the shared folder named, an empty personal cache
    monkeypatch.setenv("LAB_UTILS_SHARED", str(shared))
    monkeypatch.setenv("LAB_UTILS_CACHE", str(personal))
    result = prepare.prepare(lessons / "01_tiny.ipynb")
    assert result["errors"] == [] and result["from_cache"] == 2
    assert snapshot(shared) == before, "students never write to the shared folder"
    assert not (personal / "trained").exists() or not _entry_files(personal)


def test_fetch_file_uses_the_shared_copy_without_downloading(cache, shared, tiny_file):
    entry = data.DATA_FILES["tiny"]
    data.add_data_file("tiny", tiny_file, shared)
    unreachable = "https://example.invalid/tiny.bin"
    assert data.fetch_file(unreachable, entry.filename, entry.sha256) == shared / "tiny.bin"
    assert not (cache / "tiny.bin").exists()
