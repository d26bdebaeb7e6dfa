"""The kit's layout rules (AUTHORING.md, "Where things go"), checked on the source itself.

Each rule is measured over every file of ``lab_utils`` with ``ast``: a new file that breaks
one fails here, with the file and line named.
"""

import ast
from pathlib import Path

import pytest

import lab_utils

KIT = Path(lab_utils.__file__).resolve().parent
LESSONS = ("pixels", "kernels", "perceptrons", "cnns", "detection", "faces")
ROLE_FILES = ("__init__.py", "compute.py", "widgets.py", "plots.py", "checks.py")


def _sources() -> dict[str, ast.Module]:
    """Dotted module name -> parsed source, for every .py file of the kit."""
    modules = {}
    for path in sorted(KIT.rglob("*.py")):
        parts = path.relative_to(KIT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return modules


SOURCES = _sources()


def _imported_modules(name: str, tree: ast.Module) -> list[tuple[str, int]]:
    """(module, line) of every lab_utils module ``tree`` imports, anywhere in the file.

    ``from lab_utils import data`` counts as importing ``lab_utils.data``;
    ``from lab_utils.data import Scenes`` as importing ``lab_utils.data`` too.
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (alias.name, node.lineno)
                for alias in node.names
                if alias.name.startswith("lab_utils")
            ]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.startswith("lab_utils")
        ):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.append((candidate if candidate in SOURCES else node.module, node.lineno))
    return found


def _unit(module: str) -> str:
    """The top-level room a module belongs to: ``lab_utils.detection.checks`` ->
    ``lab_utils.detection``; ``lab_utils.models`` -> itself."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_every_lesson_is_a_package_with_the_same_role_files():
    for lesson in LESSONS:
        folder = KIT / lesson
        assert folder.is_dir(), f"lab_utils/{lesson} should be a package (lesson module)"
        missing = [name for name in ROLE_FILES if not (folder / name).exists()]
        assert not missing, f"lab_utils/{lesson}/ lacks {missing}"


def test_lesson_package_init_files_only_re_export():
    """A lesson's ``__init__`` holds a docstring, imports and ``__all__``: no code of its own."""
    for lesson in LESSONS:
        tree = SOURCES[f"lab_utils.{lesson}"]
        assert ast.get_docstring(tree), f"lab_utils/{lesson}/__init__.py needs a docstring"
        for node in tree.body[1:]:
            allowed = isinstance(node, (ast.Import, ast.ImportFrom)) or (
                isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["__all__"]
            )
            assert allowed, (
                f"lab_utils/{lesson}/__init__.py line {node.lineno}: only imports "
                f"and __all__ belong there; move the code into a role file"
            )


def test_no_import_circles_between_the_kit_s_rooms():
    """Counting lazy imports inside functions too: a circle is still a circle."""
    graph: dict[str, set[str]] = {}
    for name, tree in SOURCES.items():
        for imported, _line in _imported_modules(name, tree):
            if _unit(imported) != _unit(name):
                graph.setdefault(_unit(name), set()).add(_unit(imported))

    def reaches(start: str, goal: str, seen: set) -> bool:
        for following in graph.get(start, ()):
            if following == goal or (
                following not in seen and reaches(following, goal, seen | {following})
            ):
                return True
        return False

    circles = sorted(unit for unit in graph if reaches(unit, unit, {unit}))
    assert not circles, f"these rooms import each other in a circle: {circles}"


def test_the_data_registry_imports_no_lesson_code():
    imported = {_unit(m) for m, _ in _imported_modules("lab_utils.data", SOURCES["lab_utils.data"])}
    assert not imported & {f"lab_utils.{lesson}" for lesson in LESSONS}


def test_no_module_uses_another_module_s_private_names():
    problems = []
    for name, tree in SOURCES.items():
        aliases = {}  # local name -> lab_utils module it stands for
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("lab_utils")
            ):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    if target in SOURCES:
                        aliases[alias.asname or alias.name] = target
                    elif alias.name.startswith("_") and target.rsplit(".", 1)[0] != name:
                        problems.append(f"{name} line {node.lineno} imports {target}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("lab_utils") and alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and aliases[node.value.id] != name
            ):
                problems.append(
                    f"{name} line {node.lineno} uses {aliases[node.value.id]}.{node.attr}"
                )
    assert not problems, "\n".join(problems)


def _unannotated(tree: ast.Module) -> list[str]:
    missing = []

    def visit(nodes, prefix=""):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name.startswith("_"):
                    continue
                arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                arguments = [a for a in arguments if a.arg not in ("self", "cls")]
                arguments += [a for a in (node.args.vararg, node.args.kwarg) if a]
                bare = [a.arg for a in arguments if a.annotation is None]
                if bare or node.returns is None:
                    what = f"parameters {bare}" if bare else ""
                    what += " and " if bare and node.returns is None else ""
                    what += "the return value" if node.returns is None else ""
                    missing.append(f"line {node.lineno} {prefix}{node.name}: {what}")
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, node.name + ".")

    visit(tree.body)
    return missing


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_public_functions_have_type_hints(module):
    missing = _unannotated(SOURCES[module])
    assert not missing, f"{module}: type hints missing on\n" + "\n".join(missing)


MAX_FUNCTION_LINES = 80


def _code_lines(node: ast.FunctionDef) -> int:
    """Lines from ``def`` to the end, not counting the docstring (documentation is welcome)."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
        lines -= first.end_lineno - first.lineno + 1
    return lines


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_functions_are_short(module):
    long = [
        f"line {node.lineno} {node.name}: {_code_lines(node)} lines"
        for node in ast.walk(SOURCES[module])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and _code_lines(node) > MAX_FUNCTION_LINES
    ]
    assert not long, f"{module}: split these (over {MAX_FUNCTION_LINES} lines):\n" + "\n".join(long)


def test_the_package_docstring_names_every_lesson():
    for lesson in LESSONS:
        assert f"``{lesson}``" in lab_utils.__doc__, f"lab_utils/__init__.py: add {lesson}"
