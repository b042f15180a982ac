"""`livescope doctor`: what a user needs to debug a set-up, reported truthfully."""

from __future__ import annotations

import glob
import platform
import sys

from livescope import RESEARCH_NOTICE, __version__


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

    from livescope.models.backbones import BACKBONES, weight_sources

    print("weights     where each backbone's ImageNet weights would come from (* = available now):")
    for name in BACKBONES:
        if name == "tiny_cnn":
            continue
        sources = weight_sources(name)
        text = "; ".join(("* " if ok else "") + what for what, ok in sources) or "none (train from scratch)"
        print(f"            {name:<17} {text}")
    from livescope.models.engines import ENGINES, engine_available

    engines = []
    for e in ENGINES:
        ok, why = engine_available(e)
        engines.append(e if ok else f"{e} (NOT USABLE: {why})")
    print(f"engines     {', '.join(engines)}; --engine auto picks the first usable of litert, onnx, keras")
    from livescope.live.priority import probe

    got, hint = probe()
    print(f"display     thread priority for the live display: {got}" + (f"; {hint}" if hint else ""))

    from livescope.card import default_bundle_path

    default = default_bundle_path()
    print(f"model       default bundle {'found at ' + str(default) if default.exists() else 'MISSING at ' + str(default)}")
    print("status      " + ("usable" if usable else "NOT usable: fix the lines marked NOT USABLE"))
    return 0 if usable else 1
