"""lab_utils.hosted: the cell that installs the pinned kit in hosted notebooks (Colab).

Colab itself cannot be reached from here. The cell's text is run in real interpreters with a
fake pip (a ``pip`` package on PYTHONPATH that records its arguments): one where the kit is
installed (this environment), one where it is missing (a bare virtual environment) and one
where another version is installed.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from lab_utils import hosted

PROJECT = Path(__file__).resolve().parent.parent
LESSONS = sorted((PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TOOL = PROJECT / "tools" / "hosted_cell.py"

FAKE_PIP = """\
import json, os, sys
with open(os.environ["FAKE_PIP_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
sys.exit(int(os.environ.get("FAKE_PIP_EXIT", "0")))
"""


def test_the_decision_installs_only_where_the_kit_is_missing_or_another_version():
    args = (hosted.VERSION, hosted.SOURCE, "/py", (3, 11))
    assert hosted.install_command(hosted.VERSION, *args) is None
    expected = ["/py", "-m", "pip", "install", "--quiet", hosted.SOURCE]
    assert hosted.install_command(None, *args) == expected
    assert hosted.install_command("0.0.9", *args) == expected
    with pytest.raises(RuntimeError, match="Python 3.10-3.12.*3.13"):
        hosted.install_command(None, hosted.VERSION, hosted.SOURCE, "/py", (3, 13))
    assert (
        hosted.install_command(hosted.VERSION, hosted.VERSION, hosted.SOURCE, "/py", (3, 13))
        is None
    )


def test_the_cell_pins_the_kit_s_version_and_imports_nothing_of_the_kit():
    version = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]
    assert hosted.VERSION == version
    assert hosted.SOURCE.endswith(f"@v{version}") and hosted.SOURCE.startswith(
        "lab-utils @ git+https://"
    )
    tree = ast.parse(hosted.cell_source())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert imported == {"importlib", "subprocess", "sys"}
    # The cell runs the very function the tests above decide with.
    assert hosted.inspect.getsource(hosted.install_command).strip() in hosted.cell_source()


@pytest.fixture(scope="module")
def fake_pip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fake_pip")
    (folder / "pip").mkdir()
    (folder / "pip" / "__init__.py").write_text("")
    (folder / "pip" / "__main__.py").write_text(FAKE_PIP)
    return folder


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A virtual environment without the kit (and without pip: the fake one stands in)."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv / "bin" / "python"


def _run_cell(python, fake_pip, tmp_path, extra_path=(), pip_exit=0):
    cell = tmp_path / "cell.py"
    cell.write_text(hosted.cell_source())
    log = tmp_path / "pip.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(fake_pip), *map(str, extra_path)]),
        "FAKE_PIP_LOG": str(log),
        "FAKE_PIP_EXIT": str(pip_exit),
    }
    result = subprocess.run(
        [str(python), str(cell)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def test_in_the_kit_s_own_environment_the_cell_does_nothing(fake_pip, tmp_path):
    result, calls = _run_cell(sys.executable, fake_pip, tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == [] and result.stdout == ""


def test_where_the_kit_is_missing_the_cell_pip_installs_the_pinned_source(
    fake_pip, bare_python, tmp_path
):
    result, calls = _run_cell(bare_python, fake_pip, tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == [["install", "--quiet", hosted.SOURCE]]
    assert "Installing the course kit" in result.stdout and "Installed." in result.stdout


def test_another_installed_version_is_replaced_and_a_failed_install_stops_the_cell(
    fake_pip, bare_python, tmp_path
):
    site = tmp_path / "site"
    (site / "lab_utils-0.0.9.dist-info").mkdir(parents=True)
    (site / "lab_utils-0.0.9.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lab-utils\nVersion: 0.0.9\n"
    )
    result, calls = _run_cell(bare_python, fake_pip, tmp_path, extra_path=[site])
    assert result.returncode == 0 and calls == [["install", "--quiet", hosted.SOURCE]]
    (tmp_path / "pip.log").unlink()
    result, calls = _run_cell(bare_python, fake_pip, tmp_path, pip_exit=1)
    assert result.returncode != 0 and "CalledProcessError" in result.stderr
    assert "Installed." not in result.stdout and len(calls) == 1


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_the_cell_goes_second_exactly_once(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    once = hosted.with_install_cell(notebook, path.stem)
    twice = hosted.with_install_cell(once, path.stem)
    assert twice == once
    assert hosted.is_install_cell(once["cells"][1])
    assert sum(hosted.is_install_cell(cell) for cell in once["cells"]) == 1
    rest = [cell for cell in once["cells"] if not hosted.is_install_cell(cell)]
    original = [cell for cell in notebook["cells"] if not hosted.is_install_cell(cell)]
    assert rest == original
    assert "".join(once["cells"][1]["source"]) == hosted.cell_source()
    ids = [cell.get("id") for cell in once["cells"]]
    assert len(ids) == len(set(ids))


def test_the_tool_updates_copies_idempotently_and_check_reports_stale_lessons(tmp_path):
    for path in LESSONS:
        shutil.copy(path, tmp_path / path.name)
    run = [sys.executable, str(TOOL), str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    first = subprocess.run(run, capture_output=True, text=True, env=env, check=True).stdout
    stale = [
        path.name
        for path in LESSONS
        if not hosted.is_install_cell(json.loads(path.read_text(encoding="utf-8"))["cells"][1])
    ]
    for name in stale:
        assert name in first
    after = {path.name: (tmp_path / path.name).read_text(encoding="utf-8") for path in LESSONS}
    assert subprocess.run([*run, "--check"], env=env, capture_output=True).returncode == 0
    again = subprocess.run(run, capture_output=True, text=True, env=env, check=True).stdout
    assert "nothing" in again
    assert after == {p.name: (tmp_path / p.name).read_text(encoding="utf-8") for p in LESSONS}
    for text in after.values():
        assert text.endswith("}\n") and hosted.is_install_cell(json.loads(text)["cells"][1])
    first_cells = [json.loads(text)["cells"][0] for text in after.values()]
    assert all(cell["source"][0].startswith("# Lesson ") for cell in first_cells)
    # A lesson whose cell is missing is reported by --check, and left unchanged.
    shutil.copy(LESSONS[0], tmp_path / LESSONS[0].name)
    if LESSONS[0].name in stale:
        assert subprocess.run([*run, "--check"], env=env, capture_output=True).returncode == 1
        assert (tmp_path / LESSONS[0].name).read_bytes() == LESSONS[0].read_bytes()


def test_colab_links_name_each_lesson_in_the_repository():
    lines = hosted.colab_links(["01_pixels", "05_detection"], repository="org/kit")
    assert lines[1].endswith(
        "(https://colab.research.google.com/github/org/kit/blob/main/notebooks/05_detection.ipynb)"
    )
    assert all("colab-badge.svg" in line for line in lines) and len(lines) == 2
