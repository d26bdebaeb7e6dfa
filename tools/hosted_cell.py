"""Insert or update the hosted-notebook install cell (lab_utils.hosted) in every lesson.

    python tools/hosted_cell.py            # write the cell into notebooks/NN_*.ipynb (idempotent)
    python tools/hosted_cell.py --check    # exit 1 if a lesson lacks the current cell
    python tools/hosted_cell.py --links    # print the README's "Open in Colab" lines

The cell goes second, after the lesson's title; a second run changes nothing. Notebooks are
written as the kit stores them (indent 1, UTF-8, final newline).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lab_utils import hosted, resources


def update(folder: Path, check: bool = False) -> list[str]:
    """Names of the lessons in ``folder`` whose install cell was (or, with check, would be) changed."""
    changed = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        text = path.read_text(encoding="utf-8")
        notebook = json.loads(text)
        updated = hosted.with_install_cell(notebook, path.stem)
        new_text = json.dumps(updated, indent=1, ensure_ascii=False) + "\n"
        if json.loads(new_text) != notebook:
            changed.append(path.name)
            if not check:
                path.write_text(new_text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line: update the lessons, check them, or print the README links."""
    command = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    command.add_argument("folder", nargs="?", default=str(resources.kit_folder("lessons")))
    command.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    command.add_argument("--links", action="store_true", help="print the README's Colab links")
    arguments = command.parse_args(argv)
    folder = Path(arguments.folder)
    if arguments.links:
        print(
            "\n".join(
                hosted.colab_links([p.stem for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))])
            )
        )
        return 0
    changed = update(folder, check=arguments.check)
    verb = "would change" if arguments.check else "updated"
    print(f"{verb}: {', '.join(changed) or 'nothing'}")
    return 1 if arguments.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
