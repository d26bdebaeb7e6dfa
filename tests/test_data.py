"""lab_utils.data: every registered loader, the cache, checksums and offline substitutes."""

import hashlib
import shutil

import numpy as np
import pytest

from conftest import SHARED_DATA
from lab_utils import data

IMAGE_SHAPES = {
    "astronaut": (512, 512, 3),
    "camera": (512, 512),
    "chelsea": (300, 451, 3),
    "coffee": (400, 600, 3),
    "coins": (303, 384),
    "rocket": (427, 640, 3),
    "page": (191, 384),
    "brick": (512, 512),
    "gravel": (512, 512),
    "grass": (512, 512),
    "grace_hopper": (600, 512, 3),
}


@pytest.mark.parametrize("name, shape", IMAGE_SHAPES.items())
def test_every_photo_loads_as_uint8_with_its_documented_shape(name, shape):
    image = data.load_image(name)
    assert image.shape == shape
    assert image.dtype == np.uint8
    assert image.max() > image.min()  # not blank


def test_every_registered_image_is_covered_by_a_shape_test():
    assert set(data.names("image")) - {"lincoln"} <= set(IMAGE_SHAPES)


def test_catalogue_records_source_origin_and_licence_for_everything():
    rows = data.catalogue()
    assert [row["name"] for row in rows] == data.names()
    for row in rows:
        assert row["source"] in {"package", "project file", "generated", "download"}
        assert row["origin"] and row["licence"] and row["description"]


def test_lincoln_is_the_slides_matrix_and_reports_261(capsys):
    lincoln = data.load_image("lincoln")
    assert lincoln.shape == (16, 12) and lincoln.dtype == np.int16
    assert lincoln[0, 0] == 157 and lincoln[15, 11] == 218
    assert data.out_of_range_pixels(lincoln) == [(4, 3, 261)]
    assert "261 at row 4, column 3" in capsys.readouterr().out


@pytest.mark.parametrize(
    "values, error, message",
    [
        (np.zeros(3), ValueError, "2-D grid"),
        ("lincoln", TypeError, "NumPy array"),
        (np.zeros((2, 2, 2)), ValueError, r"shape \(2, 2, 2\)"),
    ],
)
def test_out_of_range_pixels_bad_input(values, error, message):
    with pytest.raises(error, match=message):
        data.out_of_range_pixels(values)


def test_digits_and_lfw_subset():
    digits = data.load_dataset("digits")
    assert digits.images.shape == (1797, 8, 8) and digits.labels.shape == (1797,)
    assert digits.images.max() == 16 and set(digits.labels) == set(range(10))
    faces = data.load_dataset("lfw_subset")
    assert faces.images.shape == (200, 25, 25)
    assert faces.labels[:100].tolist() == [1] * 100 and faces.labels[100:].sum() == 0
    assert not digits.substitute and not faces.substitute


def test_placed_digits_are_deterministic_and_differ_by_seed():
    first = data.load_dataset("placed_digits", seed=3)
    again = data.load_dataset("placed_digits", seed=3)
    other = data.load_dataset("placed_digits", seed=4)
    assert first.images.shape == (1797, 32, 32) and first.images.dtype == np.float32
    assert 0.0 <= first.images.min() and first.images.max() <= 1.0
    np.testing.assert_array_equal(first.images, again.images)
    assert not np.array_equal(first.images, other.images)
    np.testing.assert_array_equal(first.labels, data.load_dataset("digits").labels)


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"canvas": 4}, ValueError, "canvas must be at least 8"),
        ({"min_size": 20, "max_size": 10}, ValueError, "max_size must be at least 20"),
        ({"canvas": 32.0}, TypeError, "canvas must be a whole number"),
    ],
)
def test_placed_digits_bad_options(options, error, message):
    with pytest.raises(error, match=message):
        data.load_dataset("placed_digits", **options)


def test_unknown_names_list_what_exists():
    with pytest.raises(KeyError, match="no image or dataset called 'cofee'.*coffee.*digits"):
        data.load_image("cofee")
    with pytest.raises(TypeError, match="must be a string"):
        data.info(3)
    with pytest.raises(ValueError, match="kind must be one of 'image', 'dataset'"):
        data.names("photo")


def test_kind_mismatch_says_which_loader_to_use():
    with pytest.raises(ValueError, match=r"use data.load_dataset\('digits'\)"):
        data.load_image("digits")
    with pytest.raises(ValueError, match=r"use data.load_image\('coffee'\)"):
        data.load_dataset("coffee")


# --- the download cache ---------------------------------------------------------------------


def _source_file(tmp_path, content=b"pixels" * 100):
    source = tmp_path / "source.bin"
    source.write_bytes(content)
    return source, hashlib.sha256(content).hexdigest()


def test_fetch_file_downloads_verifies_and_reuses_the_cache(cache, tmp_path, monkeypatch):
    monkeypatch.delenv("LAB_UTILS_OFFLINE")
    source, digest = _source_file(tmp_path)
    path = data.fetch_file(source.as_uri(), "copy.bin", digest)
    assert path == cache / "copy.bin" and path.read_bytes() == source.read_bytes()
    source.unlink()  # a second call must not download
    assert data.fetch_file(source.as_uri(), "copy.bin", digest) == path


def test_fetch_file_rejects_a_download_with_the_wrong_checksum(cache, tmp_path, monkeypatch):
    monkeypatch.delenv("LAB_UTILS_OFFLINE")
    source, _ = _source_file(tmp_path)
    with pytest.raises(data.DownloadError, match="has sha256 .* expected 0000"):
        data.fetch_file(source.as_uri(), "copy.bin", "0" * 64)
    assert list(cache.iterdir()) == []  # nothing half-written is left


def test_a_corrupted_cache_file_is_detected_and_set_aside(cache, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LAB_UTILS_OFFLINE")
    source, digest = _source_file(tmp_path)
    (cache / "copy.bin").write_bytes(b"truncated")
    path = data.fetch_file(source.as_uri(), "copy.bin", digest)
    assert path.read_bytes() == source.read_bytes()
    assert (cache / "copy.bin.corrupt").read_bytes() == b"truncated"
    assert "is corrupted" in capsys.readouterr().out


def test_fetch_file_offline_or_unreachable_raises_download_error(cache, tmp_path, monkeypatch):
    with pytest.raises(data.DownloadError, match="LAB_UTILS_OFFLINE is set"):
        data.fetch_file("https://example.invalid/x.bin", "x.bin", "0" * 64)
    monkeypatch.delenv("LAB_UTILS_OFFLINE")
    with pytest.raises(data.DownloadError, match="could not download"):
        data.fetch_file((tmp_path / "missing.bin").as_uri(), "x.bin", "0" * 64)


def test_cache_folder_follows_the_environment_variable(cache):
    assert data.cache_dir() == cache


# --- Olivetti: real file from ../shared, corrupted file, offline substitute ------------------

OLIVETTI = SHARED_DATA / data.OLIVETTI_FILE


@pytest.mark.skipif(not OLIVETTI.exists(), reason="../shared/data/olivetti_py3.pkz not present")
def test_olivetti_loads_the_real_faces_from_a_verified_cache(cache):
    shutil.copy(OLIVETTI, cache / data.OLIVETTI_FILE)
    faces = data.load_dataset("olivetti_faces")
    assert not faces.substitute
    assert faces.images.shape == (400, 64, 64) and faces.images.dtype == np.float32
    assert np.bincount(faces.labels).tolist() == [10] * 40


def test_olivetti_offline_returns_a_labelled_substitute(cache, capsys):
    faces = data.load_dataset("olivetti_faces", seed=1)
    assert faces.substitute and "SUBSTITUTE" in faces.note
    assert "SUBSTITUTE for the Olivetti faces" in capsys.readouterr().out
    assert faces.images.shape == (400, 64, 64) and np.bincount(faces.labels).tolist() == [10] * 40
    np.testing.assert_array_equal(faces.images, data.load_dataset("olivetti_faces", seed=1).images)


def test_a_corrupted_olivetti_file_is_not_used(cache, capsys):
    (cache / data.OLIVETTI_FILE).write_bytes(b"not a pickle")
    faces = data.load_dataset("olivetti_faces")
    assert faces.substitute
    output = capsys.readouterr().out
    assert "is corrupted" in output and "SUBSTITUTE" in output
