"""Shared fixtures: a tiny phantom dataset, a tiny cascade bundle, short phantom videos.

Everything is made here by the project's own generator and trainer (tiny models, as in
keras-hub's tests), so the suite needs no downloads and runs on 2 CPU cores."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Exported engine models go to a folder of the test run's own, not the user's cache.
os.environ.setdefault("LIVESCOPE_CACHE", tempfile.mkdtemp(prefix="livescope-test-cache-"))

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "data" / "hyperkvasir-lower-gi"


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not (REAL_DATA / "labels.csv").exists():
        pytest.skip(f"real HyperKvasir images not found at {REAL_DATA} (read-only shared folder missing)")
    return REAL_DATA


@pytest.fixture(scope="session")
def phantom_set(tmp_path_factory) -> Path:
    from livescope.phantom.dataset import synth_images

    out = tmp_path_factory.mktemp("phantom")
    synth_images(out, count=60, seed=5, size=96, balance="even", workers=1, b_count=30, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_bundles(phantom_set, tmp_path_factory) -> dict[str, Path]:
    """gate, A and B bundles on one frozen tiny backbone, and the cascade assembled from them."""
    from livescope.models.commands import assemble_cascade
    from livescope.models.train import TrainConfig, train

    root = tmp_path_factory.mktemp("bundles")
    out = {}
    for task in ("gate", "A", "B"):
        cfg = TrainConfig(task=task, data=str(phantom_set), backbone="tiny_cnn", weights="none",
                          out=str(root / task), size=64, epochs=2, aug_draws=1, progress=False, seed=0)
        out[task], _ = train(cfg)
    out["cascade"] = assemble_cascade(str(out["gate"]), str(out["A"]), str(out["B"]), str(root / "cascade"))
    return out


@pytest.fixture(scope="session")
def tiny_ensemble(tiny_bundles, tmp_path_factory) -> dict[str, Path]:
    """Two different members (the tiny cascade, and a copy with its heads' weights redrawn) and
    their ensemble, made through the command line as a user makes one."""
    import subprocess
    import sys

    import numpy as np

    from livescope.models.bundle import load_bundle, save_bundle

    root = tmp_path_factory.mktemp("ensemble")
    model, card = load_bundle(tiny_bundles["cascade"])
    rng = np.random.default_rng(7)
    for task in ("gate", "A", "B"):
        head = model.get_layer(f"head_{task}")
        head.set_weights([w + rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in head.get_weights()])
    other = save_bundle(model, card, root / "member2")
    out = root / "ensemble"
    subprocess.run([sys.executable, "-m", "livescope.cli", "train", "--ensemble", str(tiny_bundles["cascade"]),
                    str(other), "--out", str(out)], check=True, capture_output=True, text=True)
    return {"members": [tiny_bundles["cascade"], other], "ensemble": out}


@pytest.fixture(scope="session")
def tiny_cascade(tiny_bundles):
    from livescope.models.cascade import Cascade

    return Cascade(tiny_bundles["cascade"])


@pytest.fixture(scope="session")
def short_video(tmp_path_factory) -> Path:
    """An 8 s 320x240 phantom withdrawal at 15 fps with one retroflexion episode."""
    from livescope.phantom.video import synth_video

    out = tmp_path_factory.mktemp("video") / "short.mp4"
    synth_video(out, seconds=8, fps=15, size="320x240", seed=3, episodes="Rf1", progress=False)
    return out
