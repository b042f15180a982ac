"""Import TensorFlow/Keras quietly, once, and only for the commands that need them."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

_DEBUG = False


@contextlib.contextmanager
def _stderr_silenced(fds: tuple[int, ...] = (2,)):
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(fd) for fd in fds]
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
        yield
    finally:
        for fd, old in zip(fds, saved, strict=True):
            os.dup2(old, fd)
            os.close(old)
        os.close(devnull)


def silenced():
    """Hide what TensorFlow's converters print on stdout and stderr (unless --debug)."""
    return contextlib.nullcontext() if _DEBUG else _stderr_silenced((1, 2))


def set_debug(debug: bool) -> None:
    global _DEBUG
    _DEBUG = debug


def quiet_environment() -> None:
    """Silence TensorFlow's C++ and Python start-up logs unless --debug (set before import)."""
    if not _DEBUG:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1"))
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def tf():
    """Return the tensorflow module, imported quietly."""
    quiet_environment()
    if _DEBUG or "tensorflow" in sys.modules:
        import tensorflow as tf_mod
    else:
        # TF 2.21's absl logging prints before TF_CPP_MIN_LOG_LEVEL is read: hide fd 2 while importing.
        with _stderr_silenced():
            import tensorflow as tf_mod

    if not _DEBUG:
        tf_mod.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
    return tf_mod


def keras():
    tf()
    import keras as keras_mod

    return keras_mod
