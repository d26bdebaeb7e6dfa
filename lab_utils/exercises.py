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
"""

from __future__ import annotations

import contextlib
import io
from typing import Callable

import numpy as np


class _ShortTraceback:
    """Show only the message in a notebook: the frames inside lab_utils would look like a crash
    of the kit, while the message already says what to fix (IPython calls this hook)."""

    def _render_traceback_(self):
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {line}" if index == 0 else line
                for index, line in enumerate(str(self).splitlines())]


class ExerciseNotStarted(_ShortTraceback, NotImplementedError):
    """The student's function still raises NotImplementedError."""


class ExerciseIncorrect(_ShortTraceback, AssertionError):
    """The student's function runs but gives a wrong answer."""


def fail(message: str, hint: str | None = None):
    """Raise ExerciseIncorrect with ``message`` and, if given, a hint on its own line."""
    __tracebackhide__ = True
    raise ExerciseIncorrect(message + (f"\nHint: {hint}" if hint else ""))


def require_function(function, name: str):
    """Raise ExerciseIncorrect unless ``function`` is callable (a student may pass a value)."""
    __tracebackhide__ = True
    if not callable(function):
        fail(f"{name} should be a function, but it is {type(function).__name__} "
              f"{function!r}. Pass the function itself, without calling it: "
              f"check({name}), not check({name}(...)).", None)


def call(function, *args, name: str, hint: str | None = None):
    """Call the student's function; turn its exceptions into exercise messages.

    NotImplementedError becomes ``ExerciseNotStarted``; any other exception becomes
    ``ExerciseIncorrect`` naming the exception and the inputs' shapes.
    """
    __tracebackhide__ = True
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # students' debug prints stay quiet
            return function(*args)
    except NotImplementedError:
        raise ExerciseNotStarted(f"{name} is not written yet: replace "
                                 f"`raise NotImplementedError()` with your code, run that "
                                 f"cell, then run this check again.") from None
    except Exception as error:  # noqa: BLE001 - any student error becomes a message
        shapes = ", ".join(describe_argument(argument) for argument in args)
        fail(f"{name} raised {type(error).__name__}: {error}\n(called with {shapes})", hint)


def describe_argument(value) -> str:
    """Short text for an argument: shape and dtype of arrays, repr of small values."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}, dtype {value.dtype}"
    text = repr(value)
    return text if len(text) < 40 else type(value).__name__


def expect_array(result, expected: np.ndarray, *, name: str, hint: str | None = None,
                 atol: float = 1e-6, rtol: float = 1e-6, known_mistakes=()):
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
            fail(f"{name} returned a {type(result).__name__}; expected a NumPy array of "
                  f"shape {expected.shape}.", hint)
    if result.shape != expected.shape:
        fail(f"{name} has shape {result.shape}; expected {expected.shape}.", hint)
    if not np.issubdtype(result.dtype, np.number) and result.dtype != bool:
        fail(f"{name} has dtype {result.dtype}; expected numbers.", hint)
    if result.dtype == bool and expected.dtype != bool:
        fail(f"{name} has dtype bool (True/False); expected numbers like {expected.dtype}: "
             f"convert the comparison's result with .astype(float).", hint)
    if np.issubdtype(expected.dtype, np.floating) and not np.issubdtype(result.dtype,
                                                                        np.floating):
        fail(f"{name} has dtype {result.dtype}; expected a float array like "
              f"{expected.dtype} (integer arithmetic rounds the values).", hint)
    if np.issubdtype(result.dtype, np.floating) and not np.all(np.isfinite(result)):
        fail(f"{name} contains NaN or infinite values.", hint)
    if np.allclose(result, expected, atol=atol, rtol=rtol):
        return
    for mistake, message in known_mistakes:
        if np.shape(mistake) == result.shape and np.allclose(result, mistake, atol=atol,
                                                             rtol=rtol):
            fail(f"{name} is not right yet: {message}", hint)
    difference = np.abs(result.astype(np.float64) - expected.astype(np.float64))
    where = np.unravel_index(np.argmax(difference), difference.shape)
    fail(f"{name} differs from the expected values: at index {tuple(int(i) for i in where)} "
          f"it is {result[where].item()!r}, expected {expected[where].item()!r} "
          f"(largest difference {difference[where]:.3g}).", hint)


def expect_number(result, expected: float, *, name: str, hint: str | None = None,
                  rtol: float = 1e-6, atol: float = 1e-9):
    """Compare a student's number with the expected one."""
    __tracebackhide__ = True
    if isinstance(result, np.ndarray) and result.shape == ():
        result = result.item()
    if isinstance(result, bool) or not isinstance(result, (int, float, np.number)):
        fail(f"{name} returned {describe_argument(result)}; expected a single number.", hint)
    if not np.isfinite(result):
        fail(f"{name} returned {result}; expected a finite number.", hint)
    if not np.isclose(float(result), expected, rtol=rtol, atol=atol):
        fail(f"{name} returned {float(result):.6g}; expected {expected:.6g}.", hint)


def passed(name: str, tests: int) -> None:
    """Print the success line every check ends with."""
    print(f"✔ {name} passed {tests} tests.")


def solution_or(student_function, *, check: Callable, fallback: Callable) -> Callable:
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


def forbid_calls(function, names, *, exercise: str):
    """Fail if the student's code calls one of ``names`` (the library functions the check
    compares with): the exercise is to compute the result, not to look it up.

    Only functions defined in the notebook (module ``__main__``) are inspected, and only real
    calls count: a name in a comment, a docstring or a string is fine. A dotted name such as
    "activations.sigmoid" also matches "keras.activations.sigmoid(...)".
    """
    __tracebackhide__ = True
    if getattr(function, "__module__", None) != "__main__":
        return  # only a notebook's own code is the student's work
    called = _called_names(function)
    for name in names:
        if any(call == name or call.endswith("." + name) for call in called):
            fail(f"{exercise} calls {name}(), the library function this check compares "
                 f"with. Write the computation yourself with NumPy; the lesson uses {name} "
                 f"afterwards.")


def _called_names(function) -> set[str]:
    """Dotted names of everything ``function``'s source calls, e.g. {"np.sum", "rgb2gray"}."""
    import ast
    import inspect
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
