"""The exercise pattern: checks that receive the student's function and explain what is wrong.

A lesson's exercise is three notebook cells (see AUTHORING.md):

1. the student's function, between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (nbgrader
   replaces that region with ``raise NotImplementedError()`` in the student version);
2. a locked, graded check cell: ``pixels.check_to_grayscale(to_grayscale)``. It prints
   "passed" or raises ``ExerciseNotStarted`` (a NotImplementedError) or ``ExerciseIncorrect``
   (an AssertionError) with a specific message and a hint, so nbgrader scores it 0;
3. where later cells need the result: ``gray = exercises.solution_or(to_grayscale,
   check=pixels.check_to_grayscale, fallback=skimage.color.rgb2gray)``. An unsolved exercise
   then falls back to the library's function and the rest of the lesson keeps working.

The checks compare against real library functions (scikit-image, SciPy, Keras), never against
a solution kept in ``lab_utils``.

Every check is written once, the same way, with the ``checker`` decorator::

    @exercises.checker("to_grayscale", forbid=["skimage.color.rgb2gray"])
    def check_to_grayscale(student):
        result = student(image, name="to_grayscale(image)", hint=...)
        exercises.expect_array(result, color.rgb2gray(image), name=...)
        return 1                                   # number of cases tried

The decorator supplies what each check needs and must not forget: the student's value must be a
function; the library functions the check compares with may not be called (found in the source,
and caught at run time however they are reached); each call has a time limit; answers are
converted to plain values before they are compared; the global random state is left as it was
(so what later cells print does not depend on which exercises pass); and the check is listed in
``CHECKS`` so the tests can try every check with a shortcut answer.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import importlib
import inspect
import io
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn

import numpy as np


class _ShortTraceback:
    """Show only the message in a notebook: the frames inside lab_utils would look like a crash
    of the kit, while the message already says what to fix (IPython calls this hook)."""

    def _render_traceback_(self):
        return [
            f"\x1b[0;31m{type(self).__name__}\x1b[0m: {line}" if index == 0 else line
            for index, line in enumerate(str(self).splitlines())
        ]


class ExerciseNotStarted(_ShortTraceback, NotImplementedError):
    """The student's function still raises NotImplementedError."""


class ExerciseIncorrect(_ShortTraceback, AssertionError):
    """The student's function runs but gives a wrong answer."""


def fail(message: str, hint: str | None = None) -> NoReturn:
    """Raise ExerciseIncorrect with ``message`` and, if given, a hint on its own line."""
    __tracebackhide__ = True
    raise ExerciseIncorrect(message + (f"\nHint: {hint}" if hint else ""))


def require_function(function: object, name: str) -> None:
    """Raise ExerciseIncorrect unless ``function`` is callable (a student may pass a value)."""
    __tracebackhide__ = True
    if not callable(function):
        fail(
            f"{name} should be a function, but it is {type(function).__name__} "
            f"{function!r}. Pass the function itself, without calling it: "
            f"check({name}), not check({name}(...)).",
            None,
        )


#: The messages a check gives whether it runs in the lesson or in the grader (lab_utils.trusted).
NOT_STARTED = (
    "{name} is not written yet: replace `raise NotImplementedError()` with your code, run that "
    "cell, then run this check again."
)
FORBIDDEN_AT_RUN_TIME = (
    "{exercise} calls {path}(), the library function this check compares with (reached at run "
    "time). Write the computation yourself; the lesson uses {short} afterwards."
)
FORBIDDEN_IN_SOURCE = (
    "{exercise} calls {name}(), the library function this check compares with. Write the "
    "computation yourself with NumPy; the lesson uses {name} afterwards."
)


def call(
    function: Callable[..., object], *args: object, name: str, hint: str | None = None
) -> object:
    """Call the student's function; turn its exceptions into exercise messages.

    NotImplementedError becomes ``ExerciseNotStarted``; any other exception becomes
    ``ExerciseIncorrect`` naming the exception and the inputs' shapes.
    """
    __tracebackhide__ = True
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # students' debug prints stay quiet
            return function(*args)
    except NotImplementedError:
        raise ExerciseNotStarted(NOT_STARTED.format(name=name)) from None
    except Exception as error:  # noqa: BLE001 - any student error becomes a message
        shapes = ", ".join(describe_argument(argument) for argument in args)
        fail(f"{name} raised {type(error).__name__}: {error}\n(called with {shapes})", hint)


def describe_argument(value: object) -> str:
    """Short text for an argument: shape and dtype of arrays, repr of small values."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}, dtype {value.dtype}"
    text = repr(value)
    return text if len(text) < 40 else type(value).__name__


def expect_array(
    result: object,
    expected: np.ndarray,
    *,
    name: str,
    hint: str | None = None,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    known_mistakes: Sequence[tuple[np.ndarray, str]] = (),
) -> None:
    """Compare a student's array with the expected one and explain the first difference.

    Parameters
    ----------
    result : object
        What the student's function returned.
    expected : ndarray
        The reference answer (computed with a library function).
    name : str
        How to call the result in messages, e.g. "to_grayscale(image)".
    known_mistakes : sequence of (ndarray, str)
        Answers a typical mistake would give, with the message to show if the result matches.
    """
    __tracebackhide__ = True
    if result is None:
        fail(f"{name} returned None. Did you forget `return`?", hint)
    if not isinstance(result, np.ndarray):
        if np.isscalar(result) and expected.ndim == 0:
            result = np.asarray(result)
        else:
            fail(
                f"{name} returned a {type(result).__name__}; expected a NumPy array of "
                f"shape {expected.shape}.",
                hint,
            )
    if result.shape != expected.shape:
        fail(f"{name} has shape {result.shape}; expected {expected.shape}.", hint)
    if not np.issubdtype(result.dtype, np.number) and result.dtype != bool:
        fail(f"{name} has dtype {result.dtype}; expected numbers.", hint)
    if result.dtype == bool and expected.dtype != bool:
        fail(
            f"{name} has dtype bool (True/False); expected numbers like {expected.dtype}: "
            f"convert the comparison's result with .astype(float).",
            hint,
        )
    if np.issubdtype(expected.dtype, np.floating) and not np.issubdtype(result.dtype, np.floating):
        fail(
            f"{name} has dtype {result.dtype}; expected a float array like "
            f"{expected.dtype} (integer arithmetic rounds the values).",
            hint,
        )
    if np.issubdtype(result.dtype, np.floating) and not np.all(np.isfinite(result)):
        fail(f"{name} contains NaN or infinite values.", hint)
    if np.allclose(result, expected, atol=atol, rtol=rtol):
        return
    for mistake, message in known_mistakes:
        if np.shape(mistake) == result.shape and np.allclose(result, mistake, atol=atol, rtol=rtol):
            fail(f"{name} is not right yet: {message}", hint)
    difference = np.abs(result.astype(np.float64) - expected.astype(np.float64))
    where = np.unravel_index(np.argmax(difference), difference.shape)
    fail(
        f"{name} differs from the expected values: at index {tuple(int(i) for i in where)} "
        f"it is {result[where].item()!r}, expected {expected[where].item()!r} "
        f"(largest difference {difference[where]:.3g}).",
        hint,
    )


def expect_number(
    result: object,
    expected: float,
    *,
    name: str,
    hint: str | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> None:
    """Compare a student's number with the expected one."""
    __tracebackhide__ = True
    if isinstance(result, np.ndarray) and result.shape == ():
        result = result.item()
    if isinstance(result, bool) or not isinstance(result, (int, float, np.number)):
        fail(f"{name} returned {describe_argument(result)}; expected a single number.", hint)
    try:
        finite = bool(np.isfinite(float(result)))
    except OverflowError:  # a Python int too large for a float
        finite = False
    if not finite:
        fail(f"{name} returned {describe_argument(result)}; expected a finite number.", hint)
    if not np.isclose(float(result), expected, rtol=rtol, atol=atol):
        fail(f"{name} returned {float(result):.6g}; expected {expected:.6g}.", hint)


def passed(name: str, tests: int) -> None:
    """Print the success line every check ends with."""
    print(f"✔ {name} passed {tests} tests.")


def solution_or(
    student_function: Callable[..., object], *, check: Callable, fallback: Callable
) -> Callable:
    """The student's function if it passes ``check``, otherwise ``fallback``.

    Later cells call the returned function, so a lesson keeps running while an exercise is
    unsolved. The fallback is the library function the check compares against.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            check(student_function)
    except (ExerciseNotStarted, ExerciseIncorrect):
        name = getattr(student_function, "__name__", "your function")
        module = (getattr(fallback, "__module__", None) or "__main__").split(".")[0]
        if module == "__main__":
            library = fallback.__name__
        elif module == "lab_utils":
            library = f"the kit's {fallback.__name__}"
        else:
            library = f"{module}'s {fallback.__name__}"
        print(f"Your {name} does not pass its check yet, so the cells below use {library}.")
        return fallback
    return student_function


def forbid_calls(function: Callable[..., object], names: Sequence[str], *, exercise: str) -> None:
    """Fail if the student's code calls one of ``names`` (the library functions the check
    compares with): the exercise is to compute the result, not to look it up.

    Only functions defined in the notebook (module ``__main__``) are inspected, and only real
    calls count: a name in a comment, a docstring or a string is fine. A dotted name such as
    "activations.sigmoid" also matches "keras.activations.sigmoid(...)".
    """
    __tracebackhide__ = True
    if getattr(function, "__module__", None) != "__main__":
        return  # only a notebook's own code is the student's work
    called = {call for call in _called_names(function) if not _own_helper(function, call)}
    for name in names:
        if any(call == name or call.endswith("." + name) for call in called):
            fail(FORBIDDEN_IN_SOURCE.format(exercise=exercise, name=name))


def _own_helper(function, call: str) -> bool:
    """True when a bare name like ``sigmoid`` is a function the notebook itself defined (a
    student's sigmoid_derivative may call the student's own sigmoid)."""
    if "." in call:
        return False
    target = getattr(function, "__globals__", {}).get(call)
    return callable(target) and getattr(target, "__module__", None) == "__main__"


def _called_names(function) -> set[str]:
    """Dotted names of everything ``function``'s source calls, e.g. {"np.sum", "rgb2gray"}."""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):  # no source (built-in, console lambda)
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts, target = [], node.func
            while isinstance(target, ast.Attribute):
                parts.append(target.attr)
                target = target.value
            if isinstance(target, ast.Name):
                parts.append(target.id)
            names.add(".".join(reversed(parts)))
    return names


# --- the checker runner ----------------------------------------------------------------------

#: Every check made with ``checker``: "module.check_name" -> the check. Tests iterate it.
CHECKS: dict[str, Callable] = {}

#: Seconds a single call of a student's function may take before the check gives up.
DEFAULT_TIME_LIMIT = 10.0


class Student:
    """The student's function as a check calls it: ``student(*args, name=..., hint=...)``.

    Each call runs with a time limit, hides the student's prints, turns exceptions into exercise
    messages (like ``call``), watches for the forbidden library functions, notes which array
    arguments the function wrote into (``changed_arguments``), and returns the answer converted
    to plain values (``plain``).
    """

    def __init__(self, function, exercise: str, forbidden: dict, time_limit: float):
        self.function = function
        self.exercise = exercise
        self.forbidden = forbidden  # id(object) -> dotted name
        self.last_seconds = 0.0  # how long the last call took (speed checks read it)
        self.time_limit = time_limit
        self.calls = 0
        # positions of the array arguments the last call modified (``expect_unchanged``)
        self.changed_arguments: tuple[int, ...] = ()

    @property
    def source(self) -> str:
        """The function's source code ('' when Python cannot find it)."""
        try:
            return inspect.getsource(self.function)
        except (OSError, TypeError):
            return ""

    def __call__(self, *args, name: str | None = None, hint: str | None = None):
        __tracebackhide__ = True
        name = name or self.exercise
        self.calls += 1
        before = snapshot_arguments(args)
        with _forbidden_call_watch(self.forbidden) as seen, _time_limit(self.time_limit) as timer:
            start = time.perf_counter()
            try:
                result = call(self.function, *args, name=name, hint=hint)
            except KeyboardInterrupt:
                if not timer.fired:
                    raise  # the student pressed Stop
                result = _TIMED_OUT
            self.last_seconds = time.perf_counter() - start
        self.changed_arguments = changed_arguments(args, before)
        if result is _TIMED_OUT:
            fail(
                f"{name} did not finish within {self.time_limit:g} s, so the check stopped "
                f"it. Look for a loop that never ends, or for work repeated far more often "
                f"than needed.",
                hint,
            )
        if seen:
            fail(
                FORBIDDEN_AT_RUN_TIME.format(
                    exercise=self.exercise, path=seen[0], short=seen[0].rsplit(".", 1)[-1]
                )
            )
        return plain(result)


_TIMED_OUT = object()


def snapshot_arguments(args: Sequence[object]) -> list:
    """Copies of the NumPy array arguments (None for the others), to see what a call changes."""
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]


def changed_arguments(args: Sequence[object], before: list) -> tuple[int, ...]:
    """Positions of the array arguments that differ from their ``snapshot_arguments`` copy."""
    changed = []
    for position, (argument, copy) in enumerate(zip(args, before)):
        if copy is None:
            continue
        same = argument.shape == copy.shape and argument.dtype == copy.dtype
        if same and argument.dtype.kind in "fc":
            same = bool(np.array_equal(argument, copy, equal_nan=True))
        elif same:
            same = bool(np.array_equal(argument, copy))
        if not same:
            changed.append(position)
    return tuple(changed)


def expect_unchanged(
    student: object, position: int, *, name: str, argument: str, hint: str | None = None
) -> None:
    """Fail if the student's last call wrote into its array argument at ``position``.

    A function that writes into its input (``boxes[:, 2] += boxes[:, 0]``) returns the right
    answer once but changes the caller's array, so the next call (or cell) sees other values.

    Parameters
    ----------
    student : Student or trusted.RemoteStudent
        The checked function; its ``changed_arguments`` lists what the last call changed.
    position : int
        Which argument of the call, counting from 0.
    name : str
        The call as messages show it, e.g. "xywh_to_xyxy(boxes of shape (2, 4))".
    argument : str
        The argument's name in the exercise, e.g. "boxes".
    """
    __tracebackhide__ = True
    if position in tuple(getattr(student, "changed_arguments", ()) or ()):
        fail(
            f"{name} changed its input `{argument}`: it wrote into the caller's array (for "
            f"example with `{argument}[:, 2] += ...` or `out = {argument}` followed by "
            f"assignments into `out`). The caller's {argument} must stay as they were: build "
            f"a new array (np.stack, np.column_stack, or {argument}.copy() first).",
            hint,
        )


def checker(
    exercise: str, *, forbid: Sequence[str], time_limit: float = DEFAULT_TIME_LIMIT
) -> Callable[[Callable[[Student], int]], Callable[[Callable[..., object]], None]]:
    """Turn a check body into the check a notebook calls: ``check_x(student_function)``.

    Parameters
    ----------
    exercise : str
        The exercise's name as students know it, e.g. "to_grayscale".
    forbid : sequence of str
        Import paths of the library functions the check compares with, e.g.
        ``["skimage.color.rgb2gray"]``. Calling one of them fails the check: the last part of
        the name is looked for in the student's source, and the function object itself is
        watched while the student's code runs (``getattr`` tricks and aliases included;
        NumPy ufuncs such as ``np.square`` are invisible to that watch). Must be given (may be empty when no library function computes the answer).
    time_limit : float
        Seconds each call of the student's function may take.

    The body receives a ``Student`` and returns the number of cases it tried.
    """
    if isinstance(forbid, str):
        raise TypeError("forbid must be a list of import paths, not one string.")
    forbid = tuple(forbid)

    def decorate(body):
        @functools.wraps(body)
        def check(function):
            __tracebackhide__ = True
            require_function(function, exercise)
            forbid_calls(function, [path.rsplit(".", 1)[-1] for path in forbid], exercise=exercise)
            run(Student(function, exercise, _resolve(forbid), time_limit))

        def run(student):
            """The check's body on any object with ``Student``'s interface (the grader passes
            a ``trusted.RemoteStudent`` whose function lives in the student's kernel)."""
            __tracebackhide__ = True
            with preserved_random_state():
                cases = body(student)
            passed(exercise, cases)

        check.run = run
        check.exercise = exercise
        check.forbid = forbid
        check.time_limit = time_limit
        # Keyed by the lesson package ("lab_utils.pixels.check_x"), the path notebooks use,
        # not by the role file the check is written in ("lab_utils.pixels.checks").
        lesson_module = body.__module__.removesuffix(".checks")
        CHECKS[f"{lesson_module}.{body.__name__}"] = check
        return check

    return decorate


def _resolve(paths) -> dict:
    """Import each dotted path and return {id(function): path}, unwrapping decorators.

    A path may name a method ("keras.layers.Conv2D.compute_output_shape"); a class stands for
    its own ``__init__`` (creating one is calling it). A path that cannot be imported on this
    machine (an optional package) is skipped: the static source check still applies to it.
    """
    found = {}
    for path in paths:
        target = _import_path(path)
        if target is None:
            continue
        targets = [target]
        if isinstance(target, type):
            targets = [
                vars(target)[name] for name in ("__init__", "__new__") if name in vars(target)
            ]
        for layer in (layer for each in targets for layer in _wrapper_chain(each)):
            found[id(layer)] = path
            code = getattr(layer, "__code__", None)
            if code is not None:
                found[id(code)] = path
    return found


def _import_path(path: str):
    """The object a dotted path names (module, then attributes), or None if it is missing."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                target = getattr(target, attribute)
        except AttributeError:
            return None
        return target
    return None


def _wrapper_chain(function):
    """``function`` and every function it wraps (``functools.wraps`` chains)."""
    seen = []
    while function is not None and all(function is not other for other in seen):
        seen.append(function)
        function = getattr(function, "__wrapped__", None)
    return seen


@contextlib.contextmanager
def _forbidden_call_watch(forbidden: dict):
    """Record, while the block runs, every call of a forbidden function (Python or C)."""
    seen: list[str] = []
    if not forbidden:
        yield seen
        return

    def profile(frame, event, argument):
        if event == "call":
            path = forbidden.get(id(frame.f_code))
        elif event == "c_call":
            path = forbidden.get(id(argument))
        else:
            return
        if path is not None and path not in seen:
            seen.append(path)

    previous = sys.getprofile()
    sys.setprofile(profile)
    threading.setprofile(profile)  # threads the function starts are watched too
    try:
        yield seen
    finally:
        threading.setprofile(None)
        sys.setprofile(previous)


class _Timer:
    fired = False


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the main thread after ``seconds`` (works on Linux, macOS and Windows).

    The interrupt arrives as KeyboardInterrupt between Python bytecodes, so a loop written in
    Python stops; one long NumPy call finishes first. It is repeated every half second until
    the block ends, because student code may swallow one (``try: ... except: pass``); code that
    swallows every one cannot be stopped from inside the kernel (the autograder's per-notebook
    time limit still ends it).
    Outside the main thread (rare in a notebook) no limit applies.
    ``interrupt_main`` does nothing while SIGINT is ignored or left to the system (a library or
    a test runner may have set that), so Python's own handler is put back for the block.
    """
    state = _Timer()
    if threading.current_thread() is not threading.main_thread() or seconds is None:
        yield state
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = threading.Event()

    def interrupt():
        if finished.wait(seconds):
            return
        state.fired = True
        while not finished.is_set():
            _thread.interrupt_main()
            finished.wait(0.5)

    watchdog = threading.Thread(target=interrupt, daemon=True, name="exercise-time-limit")
    watchdog.start()
    try:
        yield state
    finally:
        finished.set()
        watchdog.join()
        if previous is not signal.default_int_handler and previous is not None:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def preserved_random_state() -> Iterator[None]:
    """Leave Python's, NumPy's and Keras's global random generators as they were.

    Checks draw test inputs; without this a lesson's later figures would depend on whether
    (and how often) a student ran a check.
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    keras_generator = _keras_generator_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        _restore_keras_generator(keras_generator)


def _keras_generator_state():
    """(generator, its state as NumPy) of Keras's global SeedGenerator, if Keras is loaded."""
    if "keras" not in sys.modules:
        return None
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator

        generator = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
        state = None if generator is None else np.array(generator.state.numpy())
        return generator, state
    except Exception:  # noqa: BLE001 - a Keras-internal layout change must not break checks
        return None


def _restore_keras_generator(saved) -> None:
    if saved is None:
        return
    generator, state = saved
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator

        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, generator)
        if generator is not None:
            generator.state.assign(state)
    except Exception:  # noqa: BLE001
        pass


def plain(value: object) -> object:
    """``value`` rebuilt from built-in types and base NumPy arrays.

    Answers are compared only after this conversion, so an answer cannot carry behaviour of its
    own (an ndarray subclass whose comparisons always succeed, a float subclass that inspects
    the check). Arrays are copied into a base ``ndarray``; numbers become ``int``/``float``/
    ``bool``; lists, tuples and dicts are rebuilt; other objects (a Keras model) pass through.
    """
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return np.array([plain(item) for item in value.ravel()], dtype=object).reshape(
                value.shape
            )
        return np.array(value, copy=True, subok=False)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, np.generic):
        return np.generic.item(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, complex):
        return complex.__complex__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, tuple):
        return tuple(plain(item) for item in tuple.__iter__(value))
    if isinstance(value, list):
        return [plain(item) for item in list.__iter__(value)]
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in dict.items(value)}
    return value


# --- the kernel's half of a check decided by the grader (lab_utils.trusted) ----------------


def describe_for_grader(function_name: str) -> str:
    """What the notebook binds to ``function_name``, as plain data for the grader."""
    from lab_utils import wire

    value = getattr(sys.modules["__main__"], function_name, None)
    return wire.dumps({"callable": callable(value), "text": describe_argument(value)})


def answer_for_grader(function_name: str, arguments: str, forbid: list) -> str:
    """Call the notebook's ``function_name`` on ``arguments`` (``wire`` text) for the grader.

    Runs in the student's kernel; returns ``wire`` text of a dict: "result", or "not_started",
    or "error" and "message"; always "seconds" and "forbidden" (forbidden library functions
    reached at run time, in any thread the call starts) and "changed_arguments" (positions of
    the array arguments the call wrote into). The grader decides what it means.
    """
    from lab_utils import wire

    function = getattr(sys.modules["__main__"], function_name, None)
    answer = {"seconds": 0.0, "forbidden": [], "changed_arguments": []}
    values = wire.loads(arguments)
    before = snapshot_arguments(values)
    with _forbidden_call_watch(_resolve(forbid)) as seen:
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                answer["result"] = function(*values)
        except NotImplementedError:
            answer["not_started"] = True
        except Exception as error:  # noqa: BLE001 - every error is the student's answer
            answer.update(error=type(error).__name__, message=str(error)[:2000])
        answer["seconds"] = time.perf_counter() - start
    answer["forbidden"] = list(seen)
    answer["changed_arguments"] = list(changed_arguments(values, before))
    return wire.dumps(answer)
