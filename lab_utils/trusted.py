"""Autograding where the checks decide in a process no student code ever ran in.

A graded lesson is run cell by cell in the student's kernel (sandboxed by the grader: see
``lab_utils.grading`` and ``lab_utils.sandbox``), except its graded check cells: for each one,
*this* process runs the check, the same ``@exercises.checker`` definition a student's kernel
runs for instant feedback in the lesson. The check chooses the inputs, computes the expected
values with this process's own libraries and compares; each call of the student's function
goes to the kernel as plain data (``lab_utils.wire``: JSON, size-capped, never pickled) and
only the answer comes back. Whatever the student's code replaces inside the kernel (imports,
NumPy, the kit's modules, IPython's input transformers), the comparison is out of its reach:
the kernel can only give its function's answer, right or wrong.

Forbidden library calls are judged on the student's source here (imports and aliases
resolved, the notebook functions it calls followed; names computed at run time are flagged
for a human look) and watched in the kernel while the function runs, in every thread it
starts.

The score of each check cell is its points when the check passed in this process, else 0;
a check cell the student deleted is still run (after the last cell) and flagged.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib
import io
import queue
import time

from lab_utils import exercises, wire

#: What ``answer_for_grader`` may return, in characters (the repr of its JSON text).
MAX_ANSWER = wire.MAX_TEXT + 1024
#: Largest output of one cell kept in the executed notebook (bytes of text or data).
MAX_OUTPUT_BYTES = 1_000_000
#: Most lines of printed text (stdout and stderr) kept per cell.
MAX_OUTPUT_LINES = 1000
#: Extra seconds a call may take beyond the check's time limit (sending the data both ways).
CALL_MARGIN = 10.0


@dataclasses.dataclass
class CheckCell:
    """A graded check cell of a released lesson: ``<module>.<check>(<function>)``."""

    grade_id: str
    points: float
    module: str
    check: str
    function: str
    source: str

    def load(self) -> object:
        """The check itself, from this process's own copy of the kit."""
        key = f"lab_utils.{self.module}.{self.check}"
        importlib.import_module(f"lab_utils.{self.module}")
        if key not in exercises.CHECKS:
            raise LookupError(f"{key} is not a registered check")
        return exercises.CHECKS[key]


@dataclasses.dataclass
class Outcome:
    """One graded submission: the executed notebook (for feedback), points per check id."""

    notebook: dict
    scores: dict
    max_score: float
    flags: list


def check_cells(released: dict) -> dict[str, CheckCell]:
    """grade_id -> CheckCell for every graded, non-solution cell of the released notebook."""
    found = {}
    for cell in released.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        source = _text(cell.get("source", ""))
        call = _check_call(source)
        if call is None:
            raise ValueError(f"check cell {meta.get('grade_id')!r} is not `lesson.check_x(f)`")
        found[meta["grade_id"]] = CheckCell(
            meta["grade_id"], float(meta.get("points", 0)), *call, source=source
        )
    return found


def _check_call(source: str) -> tuple[str, str, str] | None:
    """(module, check, function) of a cell that is exactly ``module.check(function)``."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    if len(body) != 1 or not isinstance(body[0], ast.Expr):
        return None
    node = body[0].value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Name)
        and not node.keywords
    ):
        return node.func.value.id, node.func.attr, node.args[0].id
    return None


def _text(source: object) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


# --- the student's kernel ----------------------------------------------------------------


class Kernel:
    """A started Jupyter kernel with a blocking ``execute`` that keeps the outputs."""

    def __init__(self, manager: object) -> None:
        self.manager = manager
        self.client = manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=180)

    @classmethod
    def start(
        cls, kernel_name: str = "python3", kernel_dirs: list | None = None, **options: object
    ) -> Kernel:
        """Start ``kernel_name`` (found in ``kernel_dirs`` first); ``options`` go to
        ``KernelManager`` (e.g. transport, ip) and ``env``/``cwd`` to ``start_kernel``."""
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        start_options = {key: options.pop(key) for key in ("env", "cwd") if key in options}
        specs = KernelSpecManager()
        if kernel_dirs:
            specs.kernel_dirs = [str(folder) for folder in kernel_dirs] + specs.kernel_dirs
        manager = KernelManager(kernel_name=kernel_name, kernel_spec_manager=specs, **options)
        manager.start_kernel(**start_options)
        return cls(manager)

    def alive(self) -> bool:
        return bool(self.manager.is_alive())

    def shutdown(self) -> None:
        """Stop the kernel and its channels (the sandbox takes its processes with it)."""
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        with contextlib.suppress(Exception):
            self.manager.shutdown_kernel(now=True)

    def execute(
        self, code: str, timeout: float, user_expressions: dict | None = None
    ) -> tuple[list, dict | None]:
        """Run ``code``; (outputs as nbformat dicts, the execute_reply content or None if it
        did not finish within ``timeout`` seconds: the kernel is interrupted then)."""
        message_id = self.client.execute(
            code, store_history=False, user_expressions=user_expressions or {}, allow_stdin=False
        )
        deadline = time.monotonic() + timeout
        collector = _Outputs()
        reply = self._reply(message_id, deadline, collector)
        if reply is None:
            with contextlib.suppress(Exception):
                self.manager.interrupt_kernel()
            self._reply(message_id, time.monotonic() + 10, collector)
        collector.drain(self.client, message_id, time.monotonic() + 2)
        return collector.outputs, reply

    def _reply(self, message_id: str, deadline: float, collector: _Outputs) -> dict | None:
        while time.monotonic() < deadline and self.alive():
            collector.drain(self.client, message_id, time.monotonic() + 0.05, block=False)
            try:
                message = self.client.get_shell_msg(timeout=0.2)
            except queue.Empty:
                continue
            if message.get("parent_header", {}).get("msg_id") == message_id:
                return message["content"]
        return None


class _Outputs:
    """The outputs of one execution, from IOPub; beyond MAX_OUTPUT_BYTES only counted."""

    def __init__(self) -> None:
        self.kept: list = []
        self.size = 0
        self.lines = 0
        self.dropped = 0
        self.idle = False  # the kernel said it finished this execution

    @property
    def outputs(self) -> list:
        if not self.dropped:
            return self.kept
        note = (
            f"[grader] {self.dropped:,} bytes of output removed (limits: {MAX_OUTPUT_LINES:,} "
            f"printed lines, {MAX_OUTPUT_BYTES:,} bytes)\n"
        )
        return [*self.kept, {"output_type": "stream", "name": "stdout", "text": note}]

    def drain(self, client: object, message_id: str, until: float, block: bool = True) -> None:
        """Read IOPub until ``until`` (or, with ``block``, until the kernel is idle again)."""
        while not (block and self.idle):
            try:
                message = client.get_iopub_msg(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                return
            if message.get("parent_header", {}).get("msg_id") != message_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                self.idle = True
                continue
            if kind in ("stream", "display_data", "execute_result", "error"):
                self._add(message)

    def _add(self, message: dict) -> None:
        from nbformat.v4 import output_from_msg

        output = dict(output_from_msg(message))
        if output["output_type"] == "stream":
            lines = output["text"].splitlines(keepends=True)
            room = max(0, MAX_OUTPUT_LINES - self.lines)
            if len(lines) > room:
                self.dropped += sum(len(line) for line in lines[room:])
                output["text"] = "".join(lines[:room])
            self.lines += min(len(lines), room)
            if not output["text"]:
                return
        size = len(str(output))
        if self.size + size > MAX_OUTPUT_BYTES:
            self.dropped += size
            return
        self.size += size
        self.kept.append(output)


# --- the student's function, called from here --------------------------------------------


class RemoteStudent:
    """``exercises.Student``'s interface for a function that lives in the student's kernel.

    ``student(*args, name=..., hint=...)`` sends the arguments as plain data, lets the kernel
    call the function (``exercises.answer_for_grader``) and turns the answer into what a check
    compares, or into the same messages ``exercises.Student`` gives (not started, raised,
    too slow, forbidden call).
    """

    def __init__(self, kernel: Kernel, function: str, check: object, source: str) -> None:
        self.kernel = kernel
        self.function_name = function
        self.exercise = check.exercise
        self.forbid = list(check.forbid)
        self.time_limit = float(check.time_limit)
        self.source = source
        self.calls = 0
        self.last_seconds = 0.0
        self.changed_arguments: tuple[int, ...] = ()  # as exercises.Student (expect_unchanged)

    def __call__(self, *args: object, name: str | None = None, hint: str | None = None) -> object:
        __tracebackhide__ = True
        name = name or self.exercise
        self.calls += 1
        code = (
            "import lab_utils.exercises as __lab_utils_exercises\n"
            "__lab_utils_answer = __lab_utils_exercises.answer_for_grader("
            f"{self.function_name!r}, {wire.dumps(list(args))!r}, {self.forbid!r})"
        )
        answer = self._ask(code, self.time_limit + CALL_MARGIN)
        if answer is None:
            exercises.fail(
                f"{name} did not finish within {self.time_limit:g} s, so the check stopped "
                f"it. Look for a loop that never ends, or for work repeated far more often "
                f"than needed.",
                hint,
            )
        return self._result(answer, args, name, hint)

    def describe(self) -> dict:
        """What the kernel has under the function's name: {"callable": bool, "text": ...}."""
        code = (
            "import lab_utils.exercises as __lab_utils_exercises\n"
            "__lab_utils_answer = __lab_utils_exercises.describe_for_grader("
            f"{self.function_name!r})"
        )
        answer = self._ask(code, 30.0)
        return answer if isinstance(answer, dict) else {"callable": False, "text": "nothing"}

    def _ask(self, code: str, timeout: float) -> object:
        """Run ``code`` in the kernel and read ``__lab_utils_answer`` back as plain data."""
        _, reply = self.kernel.execute(code, timeout, {"answer": "__lab_utils_answer"})
        if reply is None:
            return None
        found = reply.get("user_expressions", {}).get("answer", {})
        text = found.get("data", {}).get("text/plain", "") if found.get("status") == "ok" else ""
        if not isinstance(text, str) or not text or len(text) > MAX_ANSWER:
            return {"error": "GraderError", "message": "the kernel gave no readable answer"}
        try:
            return wire.loads(ast.literal_eval(text))
        except (ValueError, SyntaxError, MemoryError, wire.WireError) as error:
            return {"error": "GraderError", "message": f"unreadable answer ({error})"[:300]}

    def _result(self, answer: object, args: tuple, name: str, hint: str | None) -> object:
        __tracebackhide__ = True
        if not isinstance(answer, dict):
            answer = {"error": "GraderError", "message": "unexpected answer"}
        self.last_seconds = float(answer.get("seconds", 0.0) or 0.0)
        changed = answer.get("changed_arguments")
        self.changed_arguments = tuple(
            position
            for position in (changed if isinstance(changed, list) else [])
            if isinstance(position, int)
        )
        if answer.get("not_started"):
            raise exercises.ExerciseNotStarted(exercises.NOT_STARTED.format(name=name))
        if "error" in answer:
            shapes = ", ".join(exercises.describe_argument(argument) for argument in args)
            exercises.fail(
                f"{name} raised {answer['error']}: {answer.get('message', '')}\n"
                f"(called with {shapes})",
                hint,
            )
        seen = answer.get("forbidden") or []
        if seen:
            exercises.fail(
                exercises.FORBIDDEN_AT_RUN_TIME.format(exercise=self.exercise, path=seen[0])
            )
        return exercises.plain(answer.get("result"))


# --- forbidden calls, judged on the student's source ---------------------------------------

#: Calls that reach a name computed at run time: flagged for a human look.
COMPUTED_ACCESS = {
    "getattr": "getattr with a computed name",
    "__import__": "__import__",
    "import_module": "importlib.import_module with a computed name",
    "attrgetter": "operator.attrgetter",
    "methodcaller": "operator.methodcaller",
    "globals": "globals()",
    "vars": "vars()",
    "locals": "locals()",
    "eval": "eval",
    "exec": "exec",
    "compile": "compile",
}


def student_code(cells: list) -> list[ast.stmt]:
    """The top-level statements of every code cell that parses (magics and all)."""
    statements = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            statements += ast.parse(_text(cell.get("source", ""))).body
        except SyntaxError:
            continue  # the kernel reports it; nothing to judge here
    return statements


def _aliases(statements: list) -> dict[str, str]:
    """Local name -> dotted import path, from every import in the notebook."""
    names = {}
    for node in ast.walk(ast.Module(body=statements, type_ignores=[])):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, aliases: dict) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def definitions(statements: list, name: str) -> list[ast.stmt]:
    """The statements that bind ``name`` at the top level (def, assignment, import)."""
    found = []
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            found.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                found.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((alias.asname or alias.name.split(".")[0]) == name for alias in node.names):
                found.append(node)
    return found


def judge_source(statements: list, function: str, forbid: list, exercise: str) -> tuple:
    """(failure message or None, flags): does ``function``'s code reach a forbidden path?

    Follows the notebook functions it calls by name (their last definitions), resolves
    imports and aliases, and matches a forbidden path by its dotted suffix
    ("keras.layers.Conv2D" matches ``tf.keras.layers.Conv2D``) or, for calls, by its last
    name (as the lesson's own check does). Computed names are flags, not failures.
    """
    aliases = _aliases(statements)
    flags, seen, todo = [], set(), [function]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        bound = definitions(statements, name)
        if not bound:
            continue
        for node in ast.walk(bound[-1]):
            message = _forbidden(node, aliases, forbid, exercise)
            if message:
                return message, flags
            flags += _computed(node)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                todo.append(node.func.id)
        if isinstance(bound[-1], (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)):
            value = getattr(bound[-1], "value", None)
            if isinstance(value, ast.Name):
                todo.append(value.id)
    return None, sorted(set(flags))


def _forbidden(node: ast.AST, aliases: dict, forbid: list, exercise: str) -> str | None:
    path = _dotted(node, aliases) if isinstance(node, (ast.Name, ast.Attribute)) else None
    if isinstance(node, ast.alias):
        path = node.name
    if isinstance(node, ast.ImportFrom) and node.module:
        for alias in node.names:
            message = _match(f"{node.module}.{alias.name}", forbid, exercise)
            if message:
                return message
    return _match(path, forbid, exercise) if path else None


def _match(path: str, forbid: list, exercise: str) -> str | None:
    for target in forbid:
        if path == target or path.endswith("." + target) or target.endswith("." + path):
            if "." not in path and path != target:
                continue  # a bare local name that merely shares the last part
            short = target.rsplit(".", 1)[-1]
            return exercises.FORBIDDEN_IN_SOURCE.format(exercise=exercise, name=short)
    return None


def _computed(node: ast.AST) -> list[str]:
    if not isinstance(node, ast.Call):
        return []
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if name not in COMPUTED_ACCESS:
        return []
    if name in ("getattr", "import_module") and len(node.args) >= 2 - (name == "import_module"):
        argument = node.args[1] if name == "getattr" else node.args[0]
        if isinstance(argument, ast.Constant):
            return []
    return [f"uses {COMPUTED_ACCESS[name]}"]


# --- one submission ----------------------------------------------------------------------


def run_submission(
    notebook: dict,
    released: dict,
    kernel: Kernel,
    *,
    cell_timeout: float = 300,
    notebook_timeout: float = 900,
) -> Outcome:
    """Run ``notebook`` in ``kernel``, deciding every check of ``released`` in this process.

    Locked cells are put back as released; each code cell gets at most ``cell_timeout``
    seconds and what is left of ``notebook_timeout`` (at least one second, so later cells
    still run and their checks are still decided). Returns the executed notebook (outputs
    capped), the points of every check of the released lesson and the flags.
    """
    checks = check_cells(released)
    cells = _restored_cells(notebook, released)
    deadline = time.monotonic() + notebook_timeout
    scores, flags, decided = dict.fromkeys(checks, 0.0), [], set()
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in checks:  # the last copy of a check counts (grading flags copies)
            decided.add(grade_id)
            cell["source"] = checks[grade_id].source
            cell["outputs"], scores[grade_id], more = decide(
                checks[grade_id], kernel, cells[:index]
            )
            flags += more
            continue
        timeout = max(1.0, min(cell_timeout, deadline - time.monotonic()))
        cell["outputs"] = _run_cell(kernel, _text(cell.get("source", "")), timeout)
    for grade_id in sorted(set(checks) - decided):
        flags.append(f"check cell {grade_id} deleted: graded after the last cell")
        _, scores[grade_id], more = decide(checks[grade_id], kernel, cells)
        flags += more
    executed = {**notebook, "cells": cells}
    return Outcome(executed, scores, sum(c.points for c in checks.values()), flags)


def _restored_cells(notebook: dict, released: dict) -> list[dict]:
    """The submission's cells (copied, outputs cleared), locked cells as released."""
    import copy

    locked = {
        cell["metadata"]["nbgrader"]["grade_id"]: cell
        for cell in released.get("cells", [])
        if cell.get("metadata", {}).get("nbgrader", {}).get("locked")
        and cell["metadata"]["nbgrader"].get("grade_id")
    }
    cells = []
    for cell in copy.deepcopy(notebook.get("cells", [])):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in locked:
            cell["source"] = locked[grade_id]["source"]
            cell["metadata"] = copy.deepcopy(locked[grade_id]["metadata"])
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    return cells


def _run_cell(kernel: Kernel, source: str, timeout: float) -> list:
    if not kernel.alive():
        return [_error("KernelDied", "the kernel had stopped before this cell (memory or a crash)")]
    outputs, reply = kernel.execute(source, timeout)
    if reply is None:
        outputs.append(_error("CellTimeout", f"the cell was stopped after {timeout:.0f} s"))
    return outputs


def _error(name: str, message: str) -> dict:
    return {
        "output_type": "error",
        "ename": name,
        "evalue": message,
        "traceback": [f"{name}: {message}"],
    }


def decide(check: CheckCell, kernel: Kernel, cells_before: list) -> tuple[list, float, list]:
    """Run one check here on the kernel's function: (outputs, points, flags)."""
    statements = student_code(cells_before)
    flags: list = []
    printed = io.StringIO()
    try:
        check_function = check.load()
        with contextlib.redirect_stdout(printed):
            flags = _run_check(check, check_function, kernel, statements)
        return [_stream(printed.getvalue())], check.points, flags
    except exercises.ExerciseNotStarted as error:
        return [_error("ExerciseNotStarted", str(error))], 0.0, flags
    except exercises.ExerciseIncorrect as error:
        return [_error("ExerciseIncorrect", str(error))], 0.0, flags
    except Exception as error:  # noqa: BLE001 - the grader's own failure: 0 and a flag
        message = f"{type(error).__name__}: {str(error)[:300]}"
        return [_error("GraderError", message)], 0.0, [f"{check.grade_id}: grader error {message}"]


def _run_check(check: CheckCell, function: object, kernel: Kernel, statements: list) -> list:
    __tracebackhide__ = True
    if not kernel.alive():
        exercises.fail("the notebook's kernel had stopped (memory or a crash) before this check.")
    bound = definitions(statements, check.function)
    source = ast.unparse(bound[-1]) if bound else ""
    student = RemoteStudent(kernel, check.function, function, source)
    described = student.describe()
    if not described.get("callable"):
        exercises.fail(
            f"{function.exercise} should be a function, but it is {described.get('text')}. "
            f"Pass the function itself, without calling it: check({check.function}), not "
            f"check({check.function}(...))."
        )
    failure, flags = judge_source(
        statements, check.function, list(function.forbid), function.exercise
    )
    if failure:
        exercises.fail(failure)
    function.run(student)
    return [f"{check.grade_id}: {flag}" for flag in flags]


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}
