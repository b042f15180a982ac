"""Runtimes for the live cascade: Keras (the training and reference path), LiteRT and ONNX Runtime.

The fast engines run only the backbone (exported from the bundle's Keras model, once, into a
cache); the heads and the head-only Grad-CAM are small dense layers, computed exactly in NumPy
with the heads' own weights (forward, and the gradient of the chosen logit by hand: Dense and
ReLU layers only). `livescope bench` and `tests/models/test_engines.py` check that every
engine gives the probabilities of Keras within 1e-4 and its heatmap within 1e-3.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np

from livescope.errors import LivescopeError

ENGINES = ("keras", "litert", "onnx")
# Measured here (2-core x86-64, MobileNet backbones at 160, batch 1, one thread): LiteRT/XNNPACK
# 0.4-1.6 ms, ONNX Runtime 2.1 ms, TF 3.6-4.0 ms. "auto" takes the first available of:
PREFERENCE = ("litert", "onnx", "keras")


def engine_available(name: str) -> tuple[bool, str]:
    """(usable, why not)."""
    try:
        if name == "litert":
            import ai_edge_litert.interpreter  # noqa: F401
        elif name == "onnx":
            import onnxruntime  # noqa: F401
            import tf2onnx  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means the engine is not usable
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
    return True, ""


def choose_engine(name: str) -> str:
    if name == "auto":
        return next(e for e in PREFERENCE if engine_available(e)[0])
    if name not in ENGINES:
        raise LivescopeError(f"unknown engine {name!r}", f"use auto or one of {', '.join(ENGINES)}")
    ok, why = engine_available(name)
    if not ok:
        raise LivescopeError(f"the {name} engine is not usable here ({why})", "use --engine auto or keras")
    return name


def cache_dir() -> Path:
    base = os.environ.get("LIVESCOPE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "livescope")
    return Path(base) / "engines"


def _digest(bundle: Path) -> str:
    h = hashlib.sha256()
    with open(bundle / "model.keras", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:20]


class NumpyHead:
    """A head (Dense + ReLU stack, then the logits Dense) as NumPy matrices: logits, and the
    gradient of one logit with respect to the pooled features."""

    def __init__(self, head):
        import keras

        self.layers = []
        for layer in head.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            act = getattr(layer, "activation", None)
            name = getattr(act, "__name__", str(act))
            if not isinstance(layer, keras.layers.Dense) or name not in ("relu", "linear"):
                raise LivescopeError(f"head {head.name} has a {type(layer).__name__} ({name}) layer",
                                     "the fast engines take Dense/ReLU heads; use --engine keras")
            w, b = layer.get_weights()
            self.layers.append((w.astype(np.float32), b.astype(np.float32), name == "relu"))

    def logits(self, pooled: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """(logits, state for `logit_gradient`)."""
        x, masks = pooled, []
        for w, b, relu in self.layers:
            x = x @ w + b
            if relu:
                masks.append(x > 0)
                x = np.maximum(x, 0)
            else:
                masks.append(None)
        return x, masks

    def output_gradient(self, masks: list[np.ndarray], coef: np.ndarray) -> np.ndarray:
        """d (sum_c coef[:, c] * logit[:, c]) / d pooled, for each row."""
        grad = coef @ self.layers[-1][0].T  # (B, units of the last hidden layer)
        for (w, _b, _relu), mask in zip(reversed(self.layers[:-1]), reversed(masks[:-1]), strict=True):
            grad = (grad * mask) @ w.T
        return grad

    def logit_gradient(self, state: list[np.ndarray], rows: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        """d logit[chosen] / d pooled, for the given rows (state from `logits`)."""
        masks = [None if m is None else m[rows] for m in state]
        return self.output_gradient(masks, np.eye(self.layers[-1][0].shape[1], dtype=np.float32)[chosen])


class NumpyEnsembleHead:
    """An ensemble head (models/ensemble.py): each member's NumpyHead on its slice of the pooled
    vector, and log(mean softmax) as the logits; its gradient by the chain rule,
    d log pbar_c / d z_kj = p_kc (delta_cj - p_kj) / (N pbar_c)."""

    def __init__(self, head):
        from livescope.models.ensemble import member_heads

        self.members = [(start, stop, NumpyHead(h)) for start, stop, h in member_heads(head)]

    def logits(self, pooled: np.ndarray):
        probs, states = [], []
        for start, stop, member in self.members:
            z, masks = member.logits(pooled[:, start:stop])
            probs.append(softmax(z))
            states.append(masks)
        mean = np.mean(probs, axis=0)
        return np.log(np.maximum(mean, 1e-30)), (probs, mean, states)

    def logit_gradient(self, state, rows: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        probs, mean, states = state
        n = len(self.members)
        grads = []
        for (_start, _stop, member), p, masks in zip(self.members, probs, states, strict=True):
            p = p[rows]
            pc = p[np.arange(len(rows)), chosen]
            onehot = np.eye(p.shape[1], dtype=np.float32)[chosen]
            coef = (pc / (n * mean[rows, chosen]))[:, None] * (onehot - p)
            grads.append(member.output_gradient([None if m is None else m[rows] for m in masks], coef))
        return np.concatenate(grads, axis=1)


def numpy_head(head):
    """The NumPy form of a head: plain Dense/ReLU, or an ensemble of them."""
    from livescope.models.ensemble import is_ensemble_head

    return NumpyEnsembleHead(head) if is_ensemble_head(head) else NumpyHead(head)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class LiteRTBackbone:
    """The backbone exported with TFLiteConverter (XNNPACK), one thread."""

    suffix = ".tflite"

    def __init__(self, path: Path, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        from livescope.tfenv import silenced

        with silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." (at the first call)
            self.interp = Interpreter(model_path=str(path), num_threads=threads)
            self.inp = self.interp.get_input_details()[0]["index"]
            self.out = self.interp.get_output_details()[0]["index"]
            shape = self.interp.get_input_details()[0]["shape"]
            self.batch = int(shape[0])
            self.interp.allocate_tensors()
            self.interp.set_tensor(self.inp, np.zeros(shape, np.uint8))
            self.interp.invoke()

    @staticmethod
    def export(backbone, path: Path) -> None:
        from livescope.tfenv import tf

        model = tf().lite.TFLiteConverter.from_keras_model(backbone).convert()
        path.write_bytes(model)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if images.shape[0] != self.batch:
            self.interp.resize_tensor_input(self.inp, list(images.shape))
            self.interp.allocate_tensors()
            self.batch = images.shape[0]
        self.interp.set_tensor(self.inp, images)
        self.interp.invoke()
        return self.interp.get_tensor(self.out)


class OnnxBackbone:
    """The backbone exported with tf2onnx, run by ONNX Runtime on the CPU, one thread."""

    suffix = ".onnx"

    def __init__(self, path: Path, threads: int = 1):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.name = self.session.get_inputs()[0].name

    @staticmethod
    def export(backbone, path: Path) -> None:
        import tf2onnx

        from livescope.tfenv import tf

        t = tf()
        size = backbone.input_shape[1]
        spec = [t.TensorSpec([None, size, size, 3], t.uint8, name="image")]
        fn = t.function(lambda x: backbone(x, training=False), input_signature=spec)
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=17)
        path.write_bytes(proto.SerializeToString())

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.name: images})[0]


RUNNERS = {"litert": LiteRTBackbone, "onnx": OnnxBackbone}


def backbone_runner(engine: str, bundle: Path, backbone):
    """The exported backbone for `engine`, converted once per bundle and kept in the cache."""
    cls = RUNNERS[engine]
    path = cache_dir() / f"{_digest(bundle)}{cls.suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        t0 = time.perf_counter()
        from livescope.tfenv import silenced

        try:
            with silenced():  # the converters print every tensor they save
                cls.export(backbone, tmp)
        except Exception as exc:  # noqa: BLE001 - converters fail in many ways; say which and go on
            tmp.unlink(missing_ok=True)
            raise LivescopeError(f"could not export the backbone for the {engine} engine "
                                 f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})",
                                 "use --engine keras") from None
        os.replace(tmp, path)  # atomic: two processes exporting at once both end with a whole file
        export_s = time.perf_counter() - t0
    else:
        export_s = 0.0
    runner = cls(path)
    runner.export_s = export_s
    runner.path = path
    return runner
