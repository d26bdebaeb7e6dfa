"""The kit as one installable distribution (issue 23, item 1).

Fast tests: pyproject.toml declares every runtime dependency with requirements.txt's exact pins,
ships every lab_utils package, and only lab_utils.resources knows where notebooks/ and data/ are.

The slow test builds the wheel, installs it into a clean virtual environment and runs lessons
01 and 05 from a folder outside the repository under nbval. What is clean and what is reused:

* clean: the virtual environment is new and bare (``venv --without-pip``): nothing of ``.venv``
  or of the checkout is on its path; every package in it is the built wheel or one of its
  declared dependencies (``--no-index``: anything undeclared is simply absent).
* reused: the wheels come from a local wheelhouse (``build/wheelhouse``, or
  ``$LAB_UTILS_WHEELHOUSE``) that ``pip wheel`` fills once from the package index with the
  kit's constraints (33 s here, 970 MB); uv installs them from its cache by hard links (9 s for
  the ~3 GB environment with a warm cache, ~2 min cold; pip alone took 5 min). The lessons use
  the test session's training cache (``LAB_UTILS_CACHE``, set in conftest.py), so lesson 05
  trains nothing when its notebook ran earlier in the session.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import tomllib

from lab_utils import resources

PROJECT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text())
PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)==([^\s#;]+)")
WHEELHOUSE = Path(os.environ.get("LAB_UTILS_WHEELHOUSE") or PROJECT / "build" / "wheelhouse")
LESSONS = sorted(path.name for path in (PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUN = ["01_pixels.ipynb", "05_detection.ipynb"]


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        match = PIN.match(line)
        if match:
            pins[_name(match.group(1))] = match.group(2)
    return pins


def test_every_dependency_has_the_pin_of_the_requirement_files():
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    declared = _pins(project["dependencies"] + extras["lab"] + extras["test"])
    assert declared == _pins((PROJECT / "requirements.txt").read_text().splitlines())
    instructor = _pins((PROJECT / "requirements-instructor.txt").read_text().splitlines())
    assert _pins(extras["instructor"]) == instructor
    if (PROJECT / "requirements-jax.txt").exists():
        jax = _pins((PROJECT / "requirements-jax.txt").read_text().splitlines())
        assert _pins(extras["jax"]) == jax
    # Everything lab_utils needs at run time is in the core, not in an extra.
    core = _pins(project["dependencies"])
    for needed in ["tensorflow", "opencv-contrib-python-headless", "pycocotools", "dlib-bin"]:
        assert needed in core, needed
    assert all("==" in requirement for requirement in project["dependencies"])


def test_the_license_is_an_spdx_expression_with_its_file():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (PROJECT / "LICENSE").read_text().startswith("MIT License")
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


def test_every_lab_utils_package_and_the_two_data_folders_are_shipped():
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(path.parent.relative_to(PROJECT).parts)
        for path in (PROJECT / "lab_utils").rglob("__init__.py")
    }
    assert packages == on_disk | {"lab_utils.lessons", "lab_utils.bundled"}
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert mapping == {"lab_utils.lessons": "notebooks", "lab_utils.bundled": "data"}
    assert resources.CHECKOUT_FOLDERS == {"lessons": "notebooks", "bundled": "data"}
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts == {"lab-utils-lessons": "lab_utils.students:main"}


def test_kit_folder_is_the_checkout_here_and_the_package_data_when_installed(tmp_path, monkeypatch):
    assert resources.kit_folder("lessons") == PROJECT / "notebooks"
    assert resources.kit_folder("bundled") == PROJECT / "data"
    with pytest.raises(ValueError, match="lessons"):
        resources.kit_folder("notebooks")
    installed = tmp_path / "site-packages" / "lab_utils"
    (installed / "lessons").mkdir(parents=True)
    monkeypatch.setattr(resources.resources, "files", lambda package: installed)
    assert resources.kit_folder("lessons") == installed / "lessons"
    with pytest.raises(FileNotFoundError, match="data/ folder is missing"):
        resources.kit_folder("bundled")


def test_only_lab_utils_resources_finds_the_checkout_s_folders():
    # Any path built to notebooks/ or data/ elsewhere would break in the installed kit.
    pattern = re.compile(r"""/\s*["'](notebooks|data)["']""")
    offenders = [
        f"{path.relative_to(PROJECT)}:{number}"
        for path in sorted((PROJECT / "lab_utils").rglob("*.py"))
        if path.name != "resources.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_make_wheel_builds_the_distribution():
    dry_run = subprocess.run(
        ["make", "-n", "wheel"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout
    assert "pip wheel --no-deps" in dry_run and "dist" in dry_run


# ---- slow: the wheel in a clean virtual environment ------------------------------------------


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _installer() -> list[str]:
    """uv when the instructor tools are installed (seconds), pip otherwise (minutes)."""
    if shutil.which("uv", path=str(Path(sys.executable).parent)) or _has_module("uv"):
        return [sys.executable, "-m", "uv", "pip", "install", "--link-mode", "hardlink"]
    return [sys.executable, "-m", "pip", "install", "--quiet"]


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _fill_wheelhouse() -> None:
    """Download (from the package index) every pinned wheel the kit needs, once."""
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(WHEELHOUSE)]
        + ["-r", str(PROJECT / "requirements.txt"), "-c", str(PROJECT / "constraints.txt")]
        + ["setuptools>=77"]
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The kit's wheel, built offline from the checkout (setuptools from the wheelhouse)."""
    if not list(WHEELHOUSE.glob("setuptools-*.whl")):
        _fill_wheelhouse()
    out = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--no-index"]
        + ["--find-links", str(WHEELHOUSE), "-w", str(out), str(PROJECT)]
    )
    (built,) = out.glob("lab_utils-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_the_lessons_the_data_and_the_license(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata).decode()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt")))
    assert {f"lab_utils/lessons/{name}" for name in LESSONS} <= names
    data = {f"lab_utils/bundled/{p.name}" for p in (PROJECT / "data").iterdir() if p.is_file()}
    assert data and data <= names
    assert not [n for n in names if "artifacts" in n or n.endswith((".keras", ".pyc"))]
    assert "License-Expression: MIT" in metadata and "Requires-Dist: tensorflow==2.21.0" in metadata
    assert b"lab-utils-lessons = lab_utils.students:main" in entry_points


@pytest.mark.slow
def test_the_installed_kit_runs_lessons_01_and_05_outside_the_repository(
    wheel, tmp_path_factory, record_property
):
    work = tmp_path_factory.mktemp("outside")
    assert PROJECT not in work.parents
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    install = _installer() + ["--python", str(python), "--no-index", "--find-links"]
    install += [str(WHEELHOUSE), f"{wheel}[lab,test]"]
    started = time.perf_counter()
    if subprocess.run(install, capture_output=True).returncode != 0:
        _fill_wheelhouse()  # a pin changed since the wheelhouse was filled
        _run(install)
    record_property("install_seconds", round(time.perf_counter() - started, 1))

    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = _run(
        [
            str(python),
            "-c",
            "import json, lab_utils; from lab_utils import resources; print(json.dumps("
            "[lab_utils.__file__, str(resources.kit_folder('lessons')),"
            " str(resources.kit_folder('bundled'))]))",
        ],
        cwd=work,
        env=env,
    )
    for path in json.loads(where.stdout):
        assert Path(path).is_relative_to(venv), path  # the wheel's copy, not the checkout

    students = _run([str(venv / "bin" / "lab-utils-lessons"), "course"], cwd=work, env=env)
    assert sorted(p.name for p in (work / "course").glob("*.ipynb")) == LESSONS, students.stdout
    assert "BEGIN SOLUTION" not in (work / "course" / "05_detection.ipynb").read_text()
    _run([str(venv / "bin" / "lab-utils-lessons"), "--with-solutions", "run"], cwd=work, env=env)

    (work / "run" / "pytest.ini").write_text("[pytest]\n")
    started = time.perf_counter()
    lessons = subprocess.run(
        [str(python), "-m", "pytest", "-c", "pytest.ini", "-p", "no:cacheprovider", "-q"]
        + ["--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=600", *RUN],
        cwd=work / "run",
        env=env,
        capture_output=True,
        text=True,
    )
    record_property("lessons_seconds", round(time.perf_counter() - started, 1))
    assert lessons.returncode == 0, lessons.stdout[-6000:]
    assert re.search(r"\b\d+ passed", lessons.stdout) and "failed" not in lessons.stdout
