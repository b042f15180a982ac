"""Training the paper's transfer set-up: frozen backbone, new head, on cached features.

Because the backbone is frozen, its pooled features are computed once per image and per
augmentation draw, and the head trains on those vectors: the same model, many times faster
than sending every batch through the backbone again.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livescope.card import make_card
from livescope.data.augment import augment_batch
from livescope.data.dataset import (
    DEFAULT_VAL_FRACTION,
    TASK_LABELS,
    load_images,
    load_labelled,
    split_indices,
)
from livescope.errors import LivescopeError
from livescope.models.backbones import (
    backbone_core,
    build_backbone,
    check_backbone,
    default_size,
    is_hub,
    spatial,
)
from livescope.models.bundle import save_bundle
from livescope.models.head import PAPER_HEAD_UNITS, assemble, build_head, feature_dim, pool
from livescope.tfenv import keras, tf

POSITIVE = {"gate": "retroflex", "A": "hemorrhoid", "B": None}


@dataclass
class TrainConfig:
    task: str
    data: str
    backbone: str
    weights: str = "none"
    out: str = "bundle"
    size: int | None = None
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-4
    val_fraction: float | None = None
    seed: int = 0
    aug_draws: int = 2
    early_stopping: bool = False
    fine_tune: int = 0
    class_weights: bool = True
    crop: bool = False
    cache: bool = True
    progress: bool = True
    hub_input_range: str = "-1,1"


def pooled_features(backbone, images: np.ndarray, batch: int = 32) -> np.ndarray:
    """Global-average-pooled backbone features for uint8 images, batch by batch."""
    t = tf()

    @t.function(reduce_retracing=True)
    def f(x):
        return pool(t, backbone(x, training=False))

    out = [f(t.constant(images[i:i + batch])).numpy() for i in range(0, len(images), batch)]
    return np.concatenate(out) if out else np.zeros((0, feature_dim(backbone)), np.float32)


def _class_weight(y: np.ndarray, n: int) -> dict[int, float]:
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(y)
    w = compute_class_weight("balanced", classes=present, y=y)
    out = {int(c): 1.0 for c in range(n)}
    out.update({int(c): float(v) for c, v in zip(present, w, strict=True)})
    return out


def _head_classifier(head):
    k = keras()
    inp = k.Input(head.input_shape[1:])
    return k.Model(inp, k.layers.Activation("softmax")(head(inp)))


def _fit(model, x, y, xv, yv, cfg: TrainConfig, class_weight, lr: float, epochs: int):
    k = keras()
    model.compile(optimizer=k.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = []
    if cfg.early_stopping:
        callbacks.append(k.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True))
    k.utils.set_random_seed(cfg.seed + 1)
    return model.fit(x, y, batch_size=cfg.batch_size, epochs=epochs, validation_data=(xv, yv), shuffle=True,
                     class_weight=class_weight, callbacks=callbacks,
                     verbose=(1 if sys.stderr.isatty() else 2) if cfg.progress else 0)


def train(cfg: TrainConfig) -> tuple[Path, dict]:
    k = keras()
    check_backbone(cfg.backbone)
    size = cfg.size or default_size(cfg.backbone)
    ds, images, warnings = _readable_dataset(cfg, size)
    labels, counts = ds.labels, ds.counts()
    val_fraction = cfg.val_fraction or DEFAULT_VAL_FRACTION.get(cfg.task, 0.2)
    tr, va = split_indices(ds, val_fraction, cfg.seed)
    n_classes = len(ds.label_names)

    k.utils.set_random_seed(cfg.seed)
    backbone = build_backbone(cfg.backbone, size, cfg.weights, cfg.hub_input_range)
    backbone.trainable = False
    cw = _class_weight(labels[tr], n_classes) if cfg.class_weights else None

    # Training inputs: draw 0 is the image itself, draws 1.. are augmentations.
    draws = [images[tr]] + [augment_batch(images[tr], cfg.seed * 1000 + d) for d in range(1, max(1, cfg.aug_draws))]
    y_train = np.concatenate([labels[tr]] * len(draws))
    timings: dict[str, float] = {}
    k.utils.set_random_seed(cfg.seed)
    head = build_head(cfg.task, feature_dim(backbone), n_classes)
    if cfg.cache:
        t0 = time.perf_counter()
        x_train = np.concatenate([pooled_features(backbone, d) for d in draws])
        x_val = pooled_features(backbone, images[va])
        timings["feature_extraction_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        hist = _fit(_head_classifier(head), x_train, y_train, x_val, labels[va], cfg, cw, cfg.lr, cfg.epochs)
        timings["head_training_s"] = time.perf_counter() - t0
    else:
        x_img = np.concatenate(draws)
        full = k.Model(backbone.input, k.layers.Activation("softmax")(head(_pooled(k, backbone.output))))
        t0 = time.perf_counter()
        hist = _fit(full, x_img, y_train, images[va], labels[va], cfg, cw, cfg.lr, cfg.epochs)
        timings["training_through_backbone_s"] = time.perf_counter() - t0
    epochs_run = len(hist.history["loss"])

    if cfg.fine_tune > 0:
        timings["fine_tune_s"] = _fine_tune(backbone, head, np.concatenate(draws), y_train, images[va], labels[va],
                                            cfg, cw)

    model = assemble(backbone, {cfg.task: head})
    from livescope.models.evaluate import predict_task
    from livescope.models.metrics import point_metrics

    probs = predict_task(model, cfg.task, images[va])
    val_metrics = point_metrics(labels[va], probs, ds.label_names, POSITIVE.get(cfg.task))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    split = {"val_fraction": val_fraction, "seed": cfg.seed,
             "grouped_by_patient": ds.patients is not None, "given_split": ds.given_split is not None,
             "train": [str(ds.paths[i]) for i in tr], "val": [str(ds.paths[i]) for i in va]}
    (out / "split.json").write_text(json.dumps(split, indent=1))
    card = _study_card(cfg, ds, size, backbone, counts, len(tr), len(va), warnings, cw, epochs_run, timings, hist,
                       val_metrics)
    save_bundle(model, card, out)
    return out, card


def _readable_dataset(cfg: TrainConfig, size: int):
    """The labelled folder with its unreadable images dropped (each one a warning), and the pixels."""
    ds = load_labelled(cfg.data, cfg.task)
    images, kept, warnings = load_images(ds.paths, size, cfg.crop, cfg.progress, mask=cfg.crop)
    ds.labels = ds.labels[kept]
    ds.paths = [ds.paths[i] for i in kept]
    if ds.patients is not None:
        ds.patients = [ds.patients[i] for i in kept]
    if ds.given_split is not None:
        ds.given_split = [ds.given_split[i] for i in kept]
    empty = [name for name, c in ds.counts().items() if c == 0]
    if empty:
        raise LivescopeError(f"class(es) {empty} have no readable images", "add images or remove the class")
    return ds, images, warnings


def _fine_tune(backbone, head, x, y, x_val, y_val, cfg: TrainConfig, cw) -> float:
    """Unfreeze the backbone's top `cfg.fine_tune` layers (BatchNorm stays frozen) and train on at a
    tenth of the rate; returns the seconds it took."""
    k = keras()
    if is_hub(cfg.backbone):
        raise LivescopeError("a TF-Hub backbone stays frozen", "drop --fine-tune for tfhub: backbones")
    core = backbone_core(backbone)
    backbone.trainable = True
    for layer in core.layers[:-cfg.fine_tune]:
        layer.trainable = False
    for layer in core.layers:
        if isinstance(layer, k.layers.BatchNormalization):
            layer.trainable = False  # keep BN statistics of the pretrained backbone
    full = k.Model(backbone.input, k.layers.Activation("softmax")(head(_pooled(k, backbone.output))))
    t0 = time.perf_counter()
    _fit(full, x, y, x_val, y_val, cfg, cw, cfg.lr / 10, max(1, cfg.epochs // 3))
    return time.perf_counter() - t0


def _study_card(cfg: TrainConfig, ds, size: int, backbone, counts: dict, n_train: int, n_val: int, warnings,
                cw, epochs_run: int, timings: dict, hist, val_metrics: dict) -> dict:
    synthetic = (Path(cfg.data) / "labels.csv").exists() and (Path(cfg.data) / "README.txt").exists()
    card = make_card(
        task=cfg.task,
        tasks={cfg.task: {"labels": ds.label_names, "positive": POSITIVE.get(cfg.task)}},
        input_size=size,
        preprocessing={"resize": [size, size], "scale": "[0, 1]",
                       "normalisation": ("[-1, 1]" if not is_hub(cfg.backbone) or cfg.hub_input_range == "-1,1"
                                         else "[0, 1]") + " inside the model",
                       "crop_to_endoscope_area": cfg.crop, "mask_outside_area": cfg.crop, "input": "uint8 RGB"},
        backbone={"name": cfg.backbone, "weights": "hub module (frozen)" if is_hub(cfg.backbone) else cfg.weights,
                  "frozen": cfg.fine_tune == 0, "fine_tuned_top_layers": cfg.fine_tune,
                  "feature_dim": feature_dim(backbone), "spatial_features": spatial(backbone)},
        data={"source": ds.source, "fingerprint": ds.fingerprint(), "counts": counts,
              "train": int(n_train), "val": int(n_val), "split_file": "split.json",
              "synthetic": synthetic, "warnings": warnings},
        training={"optimizer": "Adam", "lr": cfg.lr, "batch_size": cfg.batch_size, "epochs": cfg.epochs,
                  "epochs_run": epochs_run, "early_stopping": cfg.early_stopping, "loss": "cross-entropy",
                  "class_weights": cw, "augmentation_draws": cfg.aug_draws, "cached_features": cfg.cache,
                  "head_units": list(PAPER_HEAD_UNITS), "timings": timings,
                  "final_train_loss": float(hist.history["loss"][-1])},
        metrics={"validation": val_metrics},
    )
    if synthetic:
        card["synthetic_data_notice"] = "Trained on synthetic phantom images from `livescope synth`; not validated on patients."
    return card


def _pooled(k, features):
    return k.layers.GlobalAveragePooling2D()(features) if len(features.shape) == 4 else features


def check_task(task: str) -> None:
    if task not in TASK_LABELS:
        raise LivescopeError(f"unknown task {task!r}", "use gate, A or B")
