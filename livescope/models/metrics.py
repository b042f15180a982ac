"""Classification metrics (scikit-learn) with 95% bootstrap intervals, and their figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn import metrics as skm


def point_metrics(y: np.ndarray, probs: np.ndarray, labels: list[str], positive: str | None) -> dict:
    """Accuracy, precision, recall, F1 (binary: of the positive class; multi-class: macro and per
    class), ROC AUC and the confusion matrix."""
    pred = probs.argmax(1)
    n = len(labels)
    out: dict = {"n": int(len(y)), "accuracy": float(skm.accuracy_score(y, pred))}
    if n == 2:
        pos = labels.index(positive) if positive in labels else 1
        out["precision"] = float(skm.precision_score(y, pred, pos_label=pos, zero_division=0))
        out["recall"] = float(skm.recall_score(y, pred, pos_label=pos, zero_division=0))
        out["f1"] = float(skm.f1_score(y, pred, pos_label=pos, zero_division=0))
        out["positive_class"] = labels[pos]
        out["roc_auc"] = float(skm.roc_auc_score(y == pos, probs[:, pos])) if len(np.unique(y)) == 2 else None
    else:
        out["precision"] = float(skm.precision_score(y, pred, average="macro", labels=range(n), zero_division=0))
        out["recall"] = float(skm.recall_score(y, pred, average="macro", labels=range(n), zero_division=0))
        out["f1"] = float(skm.f1_score(y, pred, average="macro", labels=range(n), zero_division=0))
        p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=range(n), zero_division=0)
        out["per_class"] = {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                            for i, lab in enumerate(labels)}
        present = np.unique(y)
        if len(present) == n:
            out["roc_auc"] = float(skm.roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=range(n)))
        else:
            out["roc_auc"] = None
    out["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=range(n)).tolist()
    out["labels"] = list(labels)
    return out


def with_bootstrap(y: np.ndarray, probs: np.ndarray, labels: list[str], positive: str | None,
                   resamples: int = 1000, seed: int = 0) -> dict:
    """Point metrics plus percentile 95% intervals from resampling the images."""
    out = point_metrics(y, probs, labels, positive)
    rng = np.random.default_rng(seed)
    keys = ["accuracy", "precision", "recall", "f1", "roc_auc"]
    draws: dict[str, list[float]] = {k: [] for k in keys}
    n = len(y)
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        m = point_metrics(y[idx], probs[idx], labels, positive) if len(np.unique(y[idx])) > 1 else None
        if m is None:
            continue
        for k in keys:
            if m.get(k) is not None:
                draws[k].append(m[k])
    out["ci95"] = {k: ([float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v else None)
                   for k, v in draws.items()}
    out["bootstrap_resamples"] = resamples
    return out


def plot_confusion(m: dict, path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.array(m["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=120)
    ax.imshow(cm, cmap="Blues")
    labels = m["labels"]
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_roc(y: np.ndarray, probs: np.ndarray, labels: list[str], path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=120)
    classes = [1] if len(labels) == 2 else range(len(labels))
    for c in classes:
        if len(np.unique(y == c)) < 2:
            continue
        fpr, tpr, _ = skm.roc_curve(y == c, probs[:, c])
        ax.plot(fpr, tpr, label=f"{labels[c]} (AUC {skm.auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
