"""`make site` (issue 23, item 3): the released lessons, executed, as a website, seen in Chromium.

The slow test builds the site of two lessons (01 and 02: executing all six, trainings
included, takes too long for the suite; `make site` builds all of them) into a temporary
folder with tools/build_site.py, opens each page in Chromium and finds every figure of the executed
lesson, loaded, and none of the solution code of notebooks/.
"""

import json
import os
from pathlib import Path

import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS  # tests/chromium.py

PROJECT = Path(__file__).resolve().parent.parent

SITE_LESSONS = ["01_pixels", "02_kernels"]


def _site_tool():
    """tools/build_site.py as a module (tools/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_site", PROJECT / "tools" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _instructor(name: str) -> dict:
    return json.loads((PROJECT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))


def test_a_solution_line_in_a_page_is_found_and_a_clean_page_passes():
    tool = _site_tool()
    notebook = _instructor("01_pixels")
    lines = tool.solution_lines(notebook)
    assert lines, "lesson 01 has solution regions"
    assert tool.leaked_solutions("<pre>raise NotImplementedError()</pre>", notebook) == []
    escaped = lines[0].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    page = f'<pre><span class="n">{escaped}</span></pre>'
    assert tool.leaked_solutions(page, notebook) == [lines[0]]
    # A line the released lesson itself shows (outside the solution) is not a leak.
    shown = {"cells": [{"source": [f"    {lines[0]}\n"]}]}
    assert tool.leaked_solutions(page, notebook, shown) == []
    assert lines[0] not in tool.hidden_lines(notebook, shown)


def test_make_site_builds_from_the_released_lessons():
    import subprocess

    dry_run = subprocess.run(
        ["make", "-n", "site", "SITE_LESSONS=01_pixels"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "tools/build_site.py --out build/site --lessons 01_pixels" in dry_run
    source = (PROJECT / "tools" / "build_site.py").read_text()
    assert "grading.release(" in source and "execute_notebooks: force" in source


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    pytest.importorskip(
        "jupyter_book", reason="jupyter-book: pip install -r requirements-instructor.txt"
    )
    out = tmp_path_factory.mktemp("site")
    html = _site_tool().build(SITE_LESSONS, out, timeout=900)
    return html


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (requirements-instructor.txt)")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"no Chromium at {CHROMIUM} (CI must run the browser tests)")
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium fonts-dejavu-core")
    manager = sync_playwright().start()  # one per module, stopped at its end (see test_browser)
    browser = manager.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    manager.stop()


def _figures_in(executed: Path) -> int:
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook["cells"]
        if "remove-cell" not in cell.get("metadata", {}).get("tags", [])
        for output in cell.get("outputs", [])
    )


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("name", SITE_LESSONS)
def test_each_lesson_page_shows_its_figures_and_no_solution(built_site, chromium, name):
    tool = _site_tool()
    executed = built_site.parent / "jupyter_execute" / f"{name}.ipynb"
    expected = _figures_in(executed)
    assert expected >= 1, f"{name} produced no figure when executed"
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    try:
        # Offline: CDN scripts (widgets, MathJax) never load, so wait for the DOM only.
        page.goto((built_site / f"{name}.html").as_uri(), wait_until="domcontentloaded")
        page.wait_for_selector(".cell_output img", timeout=30_000)
        page.eval_on_selector_all(
            ".cell_output img", "images => images.forEach(i => i.scrollIntoView())"
        )
        page.wait_for_function(
            "() => [...document.querySelectorAll('.cell_output img')].every(i => i.complete)",
            timeout=30_000,
        )
        sizes = page.eval_on_selector_all(
            ".cell_output img", "images => images.map(i => i.naturalWidth)"
        )
        code = page.eval_on_selector_all(
            ".cell_input pre", "blocks => blocks.map(b => b.innerText)"
        )
        title = page.title()
    finally:
        page.close()
    assert len(sizes) >= expected and all(width > 0 for width in sizes), (expected, sizes)
    shown = "\n".join(code)
    assert "raise NotImplementedError()" in shown  # the students' version of the exercises
    assert "BEGIN SOLUTION" not in shown and "BEGIN HIDDEN TESTS" not in shown
    released = json.loads((built_site.parent.parent / f"{name}.ipynb").read_text(encoding="utf-8"))
    leaked = [line for line in tool.hidden_lines(_instructor(name), released) if line in shown]
    assert leaked == []
    assert "Hosted notebooks" not in shown  # the install cell is for Colab, not the site
    assert title.strip()


@pytest.mark.slow
@pytest.mark.browser
def test_the_index_links_every_lesson(built_site, chromium):
    page = chromium.new_page()
    try:
        page.goto((built_site / "index.html").as_uri(), wait_until="domcontentloaded")
        page.wait_for_url("**/intro.html", timeout=30_000)  # index.html redirects to the intro
        page.wait_for_load_state("domcontentloaded")
        links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    finally:
        page.close()
    for name in SITE_LESSONS:
        assert any(link.endswith(f"/{name}.html") for link in links), name
