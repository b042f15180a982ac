"""The fast runtimes agree with Keras: probabilities within 1e-4, heatmaps within 1e-3."""

import numpy as np
import pytest

from livescope.models.cascade import Cascade
from livescope.models.engines import engine_available


@pytest.mark.parametrize("kind", ["one model", "ensemble"])
@pytest.mark.parametrize("engine", ["litert", "onnx"])
def test_engines_agree_with_keras(tiny_bundles, tiny_ensemble, phantom_set, engine, kind):
    if not engine_available(engine)[0]:
        pytest.skip(f"{engine} is not installed: {engine_available(engine)[1]}")
    from livescope.data.dataset import load_images, load_labelled

    bundle = tiny_bundles["cascade"] if kind == "one model" else tiny_ensemble["ensemble"]
    ds = load_labelled(phantom_set, "B")
    keras_c = Cascade(bundle, engine="keras")
    fast = Cascade(bundle, engine=engine)
    images, _, _ = load_images(ds.paths[:6] + load_labelled(phantom_set, "gate").paths[:6], keras_c.size, False,
                               progress=False)
    for cam_task in (None, "gate", "A", "B"):
        for batch in (images[:1], images):  # live (batch 1) and replay (batches)
            ref = keras_c.analyse(batch, cam=True, cam_task=cam_task)
            got = fast.analyse(batch, cam=True, cam_task=cam_task)
            for r, g in zip(ref, got, strict=True):
                assert r.probs.keys() == g.probs.keys() and r.cam_task == g.cam_task and r.cam_label == g.cam_label
                for task in r.probs:
                    np.testing.assert_allclose(g.probs[task], r.probs[task], atol=1e-4)
                np.testing.assert_allclose(g.cam, r.cam, atol=1e-3)
    assert fast.engine == engine and keras_c.engine == "keras"


def test_auto_takes_a_fast_engine_and_unknown_is_one_line(tiny_bundles):
    from livescope.errors import LivescopeError

    auto = Cascade(tiny_bundles["cascade"], engine="auto")
    assert auto.engine in ("litert", "onnx", "keras")
    if engine_available("litert")[0]:
        assert auto.engine == "litert"
    with pytest.raises(LivescopeError, match="unknown engine 'tpu'"):
        Cascade(tiny_bundles["cascade"], engine="tpu")
