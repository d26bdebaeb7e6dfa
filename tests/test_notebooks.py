"""The lesson notebooks' structure. (Running them end to end is nbval's job: `pytest notebooks`.)

Every notebook: committed without outputs, starts with the one setup call, imports lab_utils
by module, and marks its exercises in the nbgrader format described in AUTHORING.md.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted(
    (Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")
)


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_lessons():
    assert NOTEBOOKS, "notebooks/ holds no lesson"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    dirty = [
        index
        for index, cell in enumerate(_cells(path))
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_starts_with_a_title_and_one_setup_call(path):
    cells = _cells(path)
    assert cells[0]["cell_type"] == "markdown" and _source(cells[0]).startswith("# Lesson ")
    code = [  # the hosted-notebook install cell (lab_utils.hosted) may come before the setup
        _source(cell)
        for cell in cells
        if cell["cell_type"] == "code" and "kit-install" not in cell["metadata"].get("tags", [])
    ]
    assert sum("lesson.setup(" in source for source in code) == 1
    assert "lesson.setup(" in code[0], "the setup call belongs in the first code cell"
    assert not any(re.search(r"import \*", source) for source in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_follow_the_nbgrader_format(path):
    cells = _cells(path)
    ids = [
        cell["metadata"]["nbgrader"]["grade_id"] for cell in cells if "nbgrader" in cell["metadata"]
    ]
    assert len(ids) == len(set(ids)), f"duplicate grade_id in {path.name}"
    solutions = [cell for cell in cells if cell["metadata"].get("nbgrader", {}).get("solution")]
    checks = [cell for cell in cells if cell["metadata"].get("nbgrader", {}).get("grade")]
    assert len(solutions) >= 2 and len(checks) >= len(solutions)
    for cell in solutions:
        source = _source(cell)
        assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source
        assert source.index("### BEGIN SOLUTION") < source.index("### END SOLUTION")
    for cell in checks:
        meta = cell["metadata"]["nbgrader"]
        assert meta["locked"] and meta["points"] > 0 and meta["schema_version"] == 3
        assert "raises-exception" in cell["metadata"].get("tags", []), (
            "a check must not stop Run All: tag it raises-exception"
        )
        assert re.search(r"\bcheck_\w+\(\w+\)", _source(cell)), (
            "a check cell passes the student's function to a check_... function"
        )


@pytest.mark.slow
def test_lesson_06_runs_and_says_so_on_the_offline_substitute(tmp_path):
    """Without the Olivetti file (an empty cache, offline), lesson 06 runs on the labelled LFW
    substitute: its first cell says so in a box, and every assertion in its cells (the
    sentences that interpret numbers) holds on the substitute too. nbval runs it on Olivetti."""
    import os

    import nbformat
    from nbclient import NotebookClient

    path = NOTEBOOKS[0].parent / "06_faces.ipynb"
    notebook = nbformat.read(path, as_version=4)
    cache = tmp_path / "empty_cache"
    cache.mkdir()
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("LAB_UTILS_")
    }
    environment.update(LAB_UTILS_CACHE=str(cache), LAB_UTILS_OFFLINE="1", MPLBACKEND="Agg")
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=environment)  # raises CellExecutionError, naming the cell, if one fails
    code = [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and "kit-install" not in cell.metadata.get("tags", [])
    ]
    first = "".join(output.get("text", "") for output in code[0].outputs)  # the setup cell
    assert "THIS RUN USES A SUBSTITUTE, NOT THE OLIVETTI FACES." in first
    assert not (cache / "olivetti_py3.pkz").exists()
