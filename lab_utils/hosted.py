"""Hosted notebooks (Colab and the like): the cell that installs the pinned kit where it is missing.

A lesson opened in Colab runs in an environment without ``lab_utils``. The cell built here,
the first code cell of every lesson (``python tools/hosted_cell.py`` inserts or updates it),
installs the kit pinned to this version, lessons and data included, when the kit is missing
or another version is installed, and does nothing where the kit is installed already (``make
lab``, ``pip install lab-utils``, the grader, the tests).

The cell cannot import ``lab_utils`` before installing it, so its text is self-contained: the
decision is :func:`install_command`, whose source is copied into the cell word for word, so the
tests exercise the same code the cell runs (tests/test_hosted.py runs the cell itself with a
fake pip).
"""

from __future__ import annotations

import inspect

DISTRIBUTION = "lab-utils"
VERSION = "0.1.0"  # pyproject.toml's version (tests/test_hosted.py compares them)
# The kit's public repository: set it when the kit is published; the cell installs the tag
# v<VERSION> from there, so a whole semester gets the same kit and, through its exact
# dependency pins, the same TensorFlow, Keras, OpenCV...
REPOSITORY = "your-org/image-dl-kit"
SOURCE = f"{DISTRIBUTION} @ git+https://github.com/{REPOSITORY}@v{VERSION}"
# Marks the cell so that inserting it again replaces it instead of adding a second one.
TAG = "kit-install"
LESSONS_PATH = "notebooks"


def install_command(
    installed: str | None,
    wanted: str,
    source: str,
    python: str,
    python_version: tuple[int, int],
) -> list[str] | None:
    """The pip command that installs the kit, or None when the wanted version is installed.

    Parameters
    ----------
    installed : str or None
        The version of the kit's distribution installed in this environment (None: missing).
    wanted : str
        The version these lessons were written for.
    source : str
        The pip requirement that installs exactly that version (a pinned URL).
    python : str
        The interpreter whose pip installs (``sys.executable``).
    python_version : tuple of int
        ``sys.version_info[:2]``: the kit's TensorFlow needs Python 3.10-3.12.
    """
    if installed == wanted:
        return None  # the kit's own environment, or already installed here: nothing to do
    if not (3, 10) <= tuple(python_version) <= (3, 12):
        raise RuntimeError(
            f"This lesson needs Python 3.10-3.12 (TensorFlow 2.21), but this notebook runs "
            f"Python {python_version[0]}.{python_version[1]}: choose another runtime or run the "
            f"kit on your own machine (see the README)."
        )
    return [python, "-m", "pip", "install", "--quiet", source]


CELL_TEMPLATE = """\
# @title Hosted notebooks only: install the course kit (click to see the code)
# Hosted notebooks (Colab and the like) only: install the course kit, pinned, where it is
# missing. Where the kit is installed (make lab, pip install) this cell does nothing.
import importlib.metadata
import subprocess
import sys


{function}


try:
    _installed = importlib.metadata.version({distribution!r})
except importlib.metadata.PackageNotFoundError:
    _installed = None
_command = install_command(
    _installed, {version!r}, {source!r}, sys.executable, sys.version_info[:2]
)
if _command:
    print("Installing the course kit (a few minutes, once per session):", " ".join(_command[-2:]))
    subprocess.run(_command, check=True)
    print("Installed. If an import fails below, restart the session and run again.")
"""


def cell_source(source: str = SOURCE, version: str = VERSION) -> str:
    """The text of the install cell: self-contained Python (it imports nothing of the kit).

    Parameters
    ----------
    source : str
        The pinned pip requirement the cell installs (default: :data:`SOURCE`).
    version : str
        The kit version the cell accepts as installed (default: :data:`VERSION`).
    """
    return CELL_TEMPLATE.format(
        function=inspect.getsource(install_command).rstrip(),
        distribution=DISTRIBUTION,
        version=version,
        source=source,
    )


def cell(notebook_name: str) -> dict:
    """The install cell as nbformat JSON for the lesson ``notebook_name`` (e.g. ``01_pixels``).

    Its id is derived from the lesson, so inserting it twice gives the same cell; it is tagged
    :data:`TAG` (found again by :func:`is_install_cell`) and ``remove-cell`` (the site,
    ``make site``, leaves it out: a reader of the site installs nothing).
    """
    text = cell_source()
    lines = text.split("\n")
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "k1t" + format(sum(map(ord, notebook_name)) % 0x100000, "05x"),
        # Folded in JupyterLab (source_hidden) and shown as its title in Colab (form view):
        # students meet the lesson, not the installer.
        "metadata": {
            "tags": [TAG, "remove-cell"],
            "jupyter": {"source_hidden": True},
            "cellView": "form",
        },
        "outputs": [],
        "source": [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else []),
    }


def is_install_cell(notebook_cell: dict) -> bool:
    """Whether ``notebook_cell`` (nbformat JSON) is the install cell made by :func:`cell`."""
    return TAG in notebook_cell.get("metadata", {}).get("tags", [])


def with_install_cell(notebook: dict, notebook_name: str) -> dict:
    """``notebook`` with the install cell as its second cell (after the title), exactly once.

    An install cell already present (anywhere) is removed first, so running this again updates
    the cell's text and changes nothing else.
    """
    cells = [c for c in notebook["cells"] if not is_install_cell(c)]
    return {**notebook, "cells": cells[:1] + [cell(notebook_name)] + cells[1:]}


def colab_links(
    lessons: list[str], repository: str = REPOSITORY, branch: str = "main"
) -> list[str]:
    """README lines, one "Open in Colab" badge link per lesson (``01_pixels``, ...)."""
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    return [
        f"- {name}: [![Open In Colab]({badge})](https://colab.research.google.com/github/"
        f"{repository}/blob/{branch}/{LESSONS_PATH}/{name}.ipynb)"
        for name in lessons
    ]
