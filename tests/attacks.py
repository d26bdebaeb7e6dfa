"""The ways of making a check pass without solving it that issue 19 found, as notebook code.

Each value is a solution cell for lesson 01's ``to_grayscale`` exercise: an unsolved or wrong
function plus an attack on the check. ``tests/test_trusted.py`` grades each with the trusted
runner and ``tests/test_grading_safety.py`` in the real (sandboxed) batch: every one must
score 0, like the honest unsolved notebook.
"""

UNSOLVED = "def to_grayscale(image):\n    raise NotImplementedError()\n"
WRONG = "def to_grayscale(image):\n    return image[..., 0] * 1.0\n"
RIGHT = "def to_grayscale(image):\n    return image @ np.array([0.2125, 0.7154, 0.0721])\n"

ATTACKS = {
    "replaced __import__ hands the grader fake checks": UNSOLVED
    + "import builtins\n_real = builtins.__import__\n"
    "def _fake(name, *a, **k):\n    module = _real(name, *a, **k)\n"
    "    if name.startswith('lab_utils'):\n"
    "        for n in dir(module):\n"
    "            if n.startswith('check_'): setattr(module, n, lambda f: print('passed'))\n"
    "    return module\n"
    "print.__self__.__setattr__('__import__', _fake)\n",
    "the libraries the check compares with are patched": WRONG
    + "import skimage.color, scipy.spatial.distance as d\n"
    "skimage.color.__setattr__('rgb2gray', lambda image: image[..., 0] * 1.0)\n"
    "d.__setattr__('euclidean', lambda a, b: 0.0)\n",
    "the comparison helpers' code is swapped through gc": "import gc\n"
    "def to_grayscale(image):\n"
    "    for o in gc.get_objects():\n"
    "        if callable(o) and getattr(o, '__name__', '') in ('expect_' + 'array', 'fa' + 'il'):\n"
    "            o.__code__ = (lambda *a, **k: None).__code__\n"
    "    return image[..., 0] * 1.0\n",
    "an input transformer rewrites the check cell": WRONG
    + "import operator\nshell = operator.attrgetter('get_' + 'ipython')(__builtins__)()\n"
    "shell.input_transformers_post.append(lambda lines: ['pass\\n'])\n",
    "numpy's allclose always agrees": WRONG + "np.__setattr__('allclose', lambda *a, **k: True)\n",
    "the printed pass line is faked": UNSOLVED + "print('✔ to_grayscale passed 3 tests.')\n",
    "the library answer, computed in a thread": "import concurrent.futures\n"
    "from skimage import color\npool = concurrent.futures.ThreadPoolExecutor(1)\n"
    "def to_grayscale(image):\n    return pool.submit(color.rgb2gray, image).result()\n",
}
