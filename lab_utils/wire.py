"""Plain data between a student's kernel and the grader: JSON text, never pickled objects.

The grader (``lab_utils.trusted``) decides every check in its own process; it sends the
arguments of each call to the student's kernel and gets the answer back through here. Only
data crosses: ``None``, booleans, numbers (NaN and infinities included), strings, lists,
tuples, dicts with string keys, NumPy arrays of numbers or booleans (``np.save`` bytes read
back with ``allow_pickle=False``) and Keras models (their architecture as JSON, rebuilt by
Keras without running any code of the student's: a ``Lambda`` layer is refused). Anything
else arrives as an ``Unsupported`` placeholder that names its type, so a check says "returned
a Foo" instead of running the object. Sizes are capped before anything is decoded.
"""

from __future__ import annotations

import base64
import io
import json
import math

import numpy as np

#: Largest message accepted, in characters of JSON text.
MAX_TEXT = 64 * 2**20
#: Deepest nesting of lists, tuples and dicts.
MAX_DEPTH = 32


class WireError(ValueError):
    """A message that is not plain data of the expected form (or is too large)."""


class Unsupported:
    """Stands for a value of a type that does not cross (a function, a file, an object)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = str(type_name)[:100]

    def __repr__(self) -> str:
        return f"<a {self.type_name}>"


def dumps(value: object) -> str:
    """``value`` as JSON text (see the module docstring for what crosses)."""
    return json.dumps(_encode(value, 0), allow_nan=False, separators=(",", ":"))


def loads(text: str) -> object:
    """The value ``dumps`` encoded; ``WireError`` for anything else."""
    if not isinstance(text, str):
        raise WireError(f"expected JSON text, got a {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise WireError(f"the message has {len(text):,} characters (limit {MAX_TEXT:,})")
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise WireError(f"not JSON: {str(error)[:200]}") from None
    return _decode(raw, 0)


def _encode(value: object, depth: int) -> object:
    if depth > MAX_DEPTH:
        return {"$unsupported": "too deeply nested value"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic) and not isinstance(value, np.ndarray):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else {"$int": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, (list, tuple)):
        items = [_encode(item, depth + 1) for item in value]
        return items if isinstance(value, list) else {"$tuple": items}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return {"$unsupported": "dict with keys that are not strings"}
        return {"$dict": [[key, _encode(item, depth + 1)] for key, item in value.items()]}
    if _is_keras_model(value):
        return {"$keras_model": value.to_json()}
    return {"$unsupported": type(value).__name__}


def _encode_array(array: np.ndarray) -> object:
    if array.dtype.kind not in "biuf":
        return {"$unsupported": f"array of dtype {array.dtype}"}
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return {"$ndarray": base64.b64encode(buffer.getvalue()).decode("ascii")}


def _is_keras_model(value: object) -> bool:
    return any(
        cls.__name__ in ("Model", "Functional", "Sequential") and cls.__module__.startswith("keras")
        for cls in type(value).__mro__
    )


def _decode(raw: object, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise WireError("the message is nested too deeply")
    if raw is None or isinstance(raw, (bool, int, float, str)):
        return raw
    if isinstance(raw, list):
        return [_decode(item, depth + 1) for item in raw]
    if not isinstance(raw, dict) or len(raw) != 1:
        raise WireError("unexpected object in the message")
    ((tag, content),) = raw.items()
    if tag == "$tuple" and isinstance(content, list):
        return tuple(_decode(item, depth + 1) for item in content)
    if tag == "$dict" and isinstance(content, list):
        pairs = [pair for pair in content if isinstance(pair, list) and len(pair) == 2]
        if len(pairs) != len(content) or not all(isinstance(k, str) for k, _ in pairs):
            raise WireError("a dict entry is not a [key, value] pair with a string key")
        return {key: _decode(item, depth + 1) for key, item in pairs}
    if tag == "$ndarray" and isinstance(content, str):
        return _decode_array(content)
    if tag == "$float" and content in ("nan", "inf", "-inf"):
        return float(content)
    if tag == "$int" and isinstance(content, str) and content.lstrip("-").isdigit():
        return int(content[:5000])
    if tag == "$keras_model" and isinstance(content, str):
        return _decode_keras_model(content)
    if tag == "$unsupported":
        return Unsupported(content)
    raise WireError(f"unknown tag {str(tag)[:40]!r}")


def _decode_array(content: str) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(base64.b64decode(content, validate=True)), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise WireError(f"not an array: {str(error)[:200]}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise WireError("an array must hold numbers or booleans")
    return array


def _decode_keras_model(content: str) -> object:
    """The architecture, rebuilt in safe mode (Keras refuses Lambda layers' code)."""
    from lab_utils import lesson

    keras = lesson.import_keras()
    try:
        config = json.loads(content)
        return keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - anything Keras refuses is the student's model
        return Unsupported(f"Keras model that cannot be rebuilt ({type(error).__name__})")
