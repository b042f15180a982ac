"""`livescope doctor`: what a user needs to debug a set-up, reported truthfully."""

from __future__ import annotations

import glob
import os
import platform
import sys
from pathlib import Path

from livescope import RESEARCH_NOTICE, __version__

# File names Keras's own downloader uses for the paper backbones' ImageNet weights (no top).
IMAGENET_WEIGHT_FILES = {
    "xception": "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet50v2": "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "efficientnetv2s": "efficientnetv2-s_notop.h5",
    "mobilenetv3small": "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
    "mobilenetv3large": "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
    "efficientnetv2b0": "efficientnetv2-b0_notop.h5",
}


def keras_cache_dir() -> Path:
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(base) / "models"


def _version(module: str) -> str:
    try:
        mod = __import__(module)
        return str(getattr(mod, "__version__", "installed"))
    except Exception as exc:  # noqa: BLE001 - report any import failure as such
        return f"NOT USABLE ({type(exc).__name__}: {exc})"


def capture_devices() -> list[str]:
    """Capture devices that actually open (not just exist)."""
    import cv2

    found = []
    system = platform.system()
    if system == "Linux":
        for path in sorted(glob.glob("/dev/video*")):
            cap = cv2.VideoCapture(path, cv2.CAP_V4L2)
            ok = cap.isOpened()
            cap.release()
            found.append(f"{path}: {'opens' if ok else 'present but cannot be opened (busy or no permission)'}")
    else:
        backend = cv2.CAP_AVFOUNDATION if system == "Darwin" else cv2.CAP_DSHOW
        for index in range(4):
            cap = cv2.VideoCapture(index, backend)
            if cap.isOpened():
                found.append(f"device {index}: opens")
            cap.release()
    return found


def run_doctor() -> int:
    usable = True
    print(f"livescope {__version__} - {RESEARCH_NOTICE}")
    print(f"python      {sys.version.split()[0]} ({platform.platform()})")
    for name, module in [("opencv", "cv2"), ("pyav", "av"), ("numpy", "numpy"), ("gradio", "gradio")]:
        v = _version(module)
        usable &= not v.startswith("NOT USABLE")
        print(f"{name:<11} {v}")
    from livescope import tfenv

    try:
        tf = tfenv.tf()
        import keras

        print(f"tensorflow  {tf.__version__}")
        print(f"keras       {keras.__version__} (backend {keras.backend.backend()})")
        devices = tf.config.list_physical_devices()
        gpus = [d for d in devices if d.device_type == "GPU"]
        kinds = ["CPU"]
        if gpus:
            metal = platform.system() == "Darwin"
            kinds.append(f"{len(gpus)} {'Apple Metal' if metal else 'CUDA'} GPU")
        print(f"compute     {', '.join(kinds)}{'' if gpus else ' (no GPU visible to TensorFlow)'}")
    except Exception as exc:  # noqa: BLE001
        usable = False
        print(f"tensorflow  NOT USABLE ({type(exc).__name__}: {exc})")

    devices = capture_devices()
    if devices:
        print("capture     " + "; ".join(devices))
    else:
        print("capture     no capture device found (recorded files and network streams still work)")

    cache = keras_cache_dir()
    print(f"weights     Keras cache {cache}")
    for backbone, fname in IMAGENET_WEIGHT_FILES.items():
        state = "cached" if (cache / fname).exists() else "not cached (downloads on first `--weights imagenet`)"
        print(f"            {backbone:<17} {state}")
    print("            vit_s16, convmixer_768_32: no Keras download; use --weights PATH or the `hub` extra")

    from livescope.models.bundle import default_bundle_path

    default = default_bundle_path()
    print(f"model       default bundle {'found at ' + str(default) if default.exists() else 'MISSING at ' + str(default)}")
    print("status      " + ("usable" if usable else "NOT usable: fix the lines marked NOT USABLE"))
    return 0 if usable else 1
