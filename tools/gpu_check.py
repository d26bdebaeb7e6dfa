"""``make test-gpu``'s first step: fail, with a clear message, when TensorFlow sees no GPU.

    python tools/gpu_check.py      # exit 0 and list the GPUs, or exit 1 and say why not

Without it, every lesson would quietly pass on the CPU and the GPU run would prove nothing.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def gpu_devices() -> list[str]:
    """Names of the GPUs TensorFlow can use (``/physical_device:GPU:0``, ...); [] on a CPU."""
    import tensorflow as tf

    return [device.name for device in tf.config.list_physical_devices("GPU")]


def message(devices: list[str], built_with_cuda: bool) -> str:
    """What ``make test-gpu`` prints before running the lessons, or instead of running them."""
    if devices:
        return f"TensorFlow sees {len(devices)} GPU(s): {', '.join(devices)}"
    cause = (
        "built with CUDA, but no GPU or driver is visible: nvidia-smi should list one"
        if built_with_cuda
        else "this TensorFlow has no CUDA support"
    )
    return (
        f"make test-gpu: TensorFlow sees no GPU ({cause}). This target only runs on Linux with an "
        "NVIDIA GPU and driver, with requirements-gpu.txt installed (make test-gpu does it: "
        "constraints-gpu.txt pins the nvidia-* libraries). On a CPU machine use make test."
    )


def main() -> int:
    """Exit status 0 when TensorFlow sees a GPU, 1 (with the message on stderr) otherwise."""
    import tensorflow as tf

    devices = gpu_devices()
    text = message(devices, tf.test.is_built_with_cuda())
    print(text, file=sys.stdout if devices else sys.stderr)
    return 0 if devices else 1


if __name__ == "__main__":
    sys.exit(main())
