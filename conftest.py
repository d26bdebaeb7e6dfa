"""Shared test set-up for tests/ and notebooks/. Environment variables set here also reach the
notebook kernels (nbval), the autograder and the browser tests' JupyterLab."""

import os
import re
import tempfile
from pathlib import Path

import pytest

# No download attempts in tests (CI has no internet) and no writes to the user's cache.
os.environ["LAB_UTILS_OFFLINE"] = "1"
os.environ.setdefault("LAB_UTILS_CACHE", tempfile.mkdtemp(prefix="lab_utils_cache_"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT = Path(__file__).resolve().parent
SHARED_DATA = PROJECT.parent / "shared" / "data"

# The session's cache starts with the real Olivetti faces when ../shared/data has them (lesson 06
# under nbval and tests/test_faces.py use them; nothing is downloaded). Per-test `cache`
# folders below stay empty, so the offline substitute is still tested there.
_OLIVETTI = SHARED_DATA / "olivetti_py3.pkz"
if _OLIVETTI.exists() and not (Path(os.environ["LAB_UTILS_CACHE"]) / _OLIVETTI.name).exists():
    import shutil

    shutil.copy(_OLIVETTI, Path(os.environ["LAB_UTILS_CACHE"]) / _OLIVETTI.name)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty download cache for one test (a folder of its own inside tmp_path)."""
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setenv("LAB_UTILS_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def keras():
    """Keras, imported quietly (TensorFlow's native log lines silenced) by the kit's own helper."""
    from lab_utils import lesson

    return lesson.import_keras()


@pytest.hookimpl(optionalhook=True)  # `-p no:xdist` runs without this hook
def pytest_xdist_make_scheduler(config, log):
    """How `make test` (pytest -n 2) shares the work between workers: by room, so that each
    notebook's cells run in order in one kernel (nbval), each test module's fixtures are built
    once, and tests/test_grading.py's lessons are graded in parallel (one room per lesson)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByRoom(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::")[0]
            lesson = re.search(r"\[(?:.*-)?(\d\d_[a-z]+)(?:-.*)?\]$", nodeid)
            if path.endswith("test_grading.py") and lesson:
                return f"{path}::{lesson.group(1)}"
            return path

        def schedule(self):
            # The rooms in collection order (pytest_collection_modifyitems below), not xdist's
            # default of most tests first, which handed out the few-test grading rooms last:
            # lesson 06's 4-minute grading then ran alone at the end of the suite.
            self.config.option.loadscopereorder = False
            super().schedule()

    return ByRoom(config, log)


def pytest_collection_modifyitems(config, items):
    """The notebooks first (their trainings fill the session's cache), then the graded lessons
    of tests/test_grading.py in lesson order (the longest rooms), then everything else; a
    stable sort, so each notebook's cells and each module's tests keep their order."""

    def rank(item) -> int:
        path = item.nodeid.split("::")[0]
        return 0 if path.endswith(".ipynb") else 1 if path.endswith("test_grading.py") else 2

    items.sort(key=rank)
