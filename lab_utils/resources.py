"""Where the kit's own files are: the lessons (``notebooks/``) and the bundled data (``data/``).

Every module that needs them asks :func:`kit_folder`, never a path relative to the checkout.

* Installed from the wheel (``pip install lab-utils``), they are package data of ``lab_utils``:
  ``lab_utils/lessons/*.ipynb`` and ``lab_utils/bundled/*`` (pyproject.toml maps those two
  subpackages onto the checkout's ``notebooks/`` and ``data/``), found through
  ``importlib.resources``.
* In the source checkout (``make lab``, the editable install in ``.venv``) the package folder
  holds neither, so the checkout's own ``notebooks/`` and ``data/`` are used: there is one copy
  of each lesson, the one instructors edit.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# Name inside the installed package -> folder of the source checkout it is built from.
CHECKOUT_FOLDERS = {"lessons": "notebooks", "bundled": "data"}


def kit_folder(name: str) -> Path:
    """The folder of the kit's lessons (``"lessons"``) or bundled data files (``"bundled"``).

    Parameters
    ----------
    name : str
        ``"lessons"`` (the instructor notebooks ``NN_*.ipynb``) or ``"bundled"`` (the small CSV
        files of ``data/``).

    Returns
    -------
    pathlib.Path
        An existing folder: inside the installed package when the kit was installed from its
        wheel, otherwise the source checkout's ``notebooks/`` or ``data/``.
    """
    if name not in CHECKOUT_FOLDERS:
        raise ValueError(f"kit_folder expects one of {sorted(CHECKOUT_FOLDERS)}, not {name!r}")
    package = resources.files("lab_utils")
    installed = package / name
    if installed.is_dir():  # installed from the wheel: the package data
        return Path(str(installed))
    checkout = Path(str(package)).parent / CHECKOUT_FOLDERS[name]
    if not checkout.is_dir():
        raise FileNotFoundError(
            f"The kit's {CHECKOUT_FOLDERS[name]}/ folder is missing: neither {installed} (an "
            f"installed kit) nor {checkout} (a source checkout) exists. Reinstall the kit "
            "(pip install lab-utils) or run from a complete checkout."
        )
    return checkout
