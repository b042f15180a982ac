"""`livescope study`: the paper's study on any hospital's images, in one command.

Trains and evaluates every backbone on task A and task B (the paper's frozen transfer set-up
on cached features), then writes study.json, study.md (the paper's comparison table, with the
paper's figures and the two endoscopists as reference rows) and bar charts like its
figures 2 to 4."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from livescope import RESEARCH_NOTICE
from livescope.errors import LivescopeError
from livescope.models.backbones import PAPER_BACKBONES

# The paper's validation-set figures (Lu et al. 2023); None where only a figure shows them.
PAPER = {
    "xception": {"A_accuracy": None, "B_accuracy": "0.881 or 0.871", "A_time_s": 3.2, "B_time_s": 1.9},
    "resnet50v2": {"A_accuracy": None, "B_accuracy": "0.871 or 0.881", "A_time_s": 2.7, "B_time_s": 1.8},
    "efficientnetv2s": {"A_accuracy": 0.956, "B_accuracy": 0.901, "A_time_s": 3.5, "B_time_s": 2.2},
    "vit_s16": {"A_accuracy": None, "B_accuracy": 0.891, "A_time_s": 9.5, "B_time_s": 7.5},
    "convmixer_768_32": {"A_accuracy": 0.961, "B_accuracy": 0.911, "A_time_s": 8.1, "B_time_s": 5.5,
                         "A_recall": 0.955, "A_precision": 0.914, "A_f1": 0.934},
}
QUICK_SIZE = 224  # 96 px left pretrained features short of the cues (quick A 0.81, B 0.59 with Xception)
ENDOSCOPISTS = {"senior endoscopist": {"A_accuracy": 0.952, "B_accuracy": 0.881},
                "junior endoscopist": {"A_accuracy": 0.913, "B_accuracy": 0.832}}


def _task_data(root: Path, task: str) -> Path:
    for name in ({"A": ("taskA", "A"), "B": ("taskB", "B")}[task]):
        if (root / name).is_dir():
            return root / name
    raise LivescopeError(f"{root} has no {task} data", f"put task {task} class folders in {root}/{'taskA' if task == 'A' else 'taskB'}/ "
                         f"(or {root}/{task}/)")


def study_backbones(names: list[str], weights_arg: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(backbone, weights) pairs to run, and one line for each backbone skipped: the paper's
    method needs pretrained weights, so a backbone without any is skipped unless `--weights none`
    is asked for explicitly."""
    from livescope.models.backbones import BACKBONES, check_backbone, is_hub, parse_weights

    for name in names:
        check_backbone(name)
    given = parse_weights(weights_arg, names)
    run, skipped = [], []
    for name in names:
        w = given[name]
        if is_hub(name):
            run.append((name, "hub"))
        elif w is None:
            skipped.append(f"skipped {name}: no weights given for it (add {name}=PATH to --weights, "
                           "or --weights none to study random features)")
        elif w == "imagenet" and BACKBONES[name].keras_app is None:
            from livescope.models.hub import KNOWN_HANDLES

            skipped.append(f"skipped {name}: Keras has no ImageNet weights for it (use --backbones "
                           f"tfhub:{KNOWN_HANDLES[name][0]} with the hub extra, or give {name}=PATH)")
        else:
            run.append((name, w))
    return run, skipped


def run_study(args: argparse.Namespace) -> int:
    from livescope.models.evaluate import evaluate_bundle
    from livescope.models.train import TrainConfig, train

    root = Path(args.data)
    if not root.exists():
        raise LivescopeError(f"data {root} does not exist", "give the folder holding the task A and B class folders")
    data = {task: _task_data(root, task) for task in ("A", "B")}
    names = args.backbones or PAPER_BACKBONES
    plan, skipped = study_backbones(names, args.weights)
    for line in skipped:
        print(line)
    if not plan:
        raise LivescopeError("no backbone left to study", "give weights for at least one backbone (--weights NAME=PATH)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = args.size or (QUICK_SIZE if args.quick else 331)  # Xception needs at least 71 px
    epochs = args.epochs or (10 if args.quick else 30)
    rows = []
    t_all = time.perf_counter()
    for bb, weights in plan:
        row = {"backbone": bb, "size": size, "weights": weights}
        for task in ("A", "B"):
            print(f"== {bb} task {task} ({size}x{size}, {epochs} epochs, weights {weights})", flush=True)
            t0 = time.perf_counter()
            bundle, card = train(TrainConfig(task=task, data=str(data[task]), backbone=bb, weights=weights,
                                             out=str(out / "bundles" / f"{_slug(bb)}_{task}"), size=size, epochs=epochs,
                                             seed=args.seed, aug_draws=2 if args.quick else 3, progress=not args.quick,
                                             hub_input_range=getattr(args, "hub_input_range", "-1,1")))
            train_s = time.perf_counter() - t0
            m = evaluate_bundle(bundle, data[task], out / "eval" / f"{_slug(bb)}_{task}", split="val",
                                resamples=300 if args.quick else 1000, progress=False)
            row[task] = {k: m[k] for k in ("accuracy", "precision", "recall", "f1", "roc_auc", "ci95", "n",
                                          "reading_time_s", "latency_ms_batch1", "confusion_matrix", "labels")}
            row[task]["train_s"] = round(train_s, 1)
            row[task]["timings"] = card["training"]["timings"]
            row[task]["majority_baseline"] = round(max(sum(r) for r in m["confusion_matrix"]) / m["n"], 4)
            print(f"   accuracy {m['accuracy']:.3f} (majority class {row[task]['majority_baseline']:.3f}), "
                  f"F1 {m['f1']:.3f}, reading {m['reading_time_s']:.2f} s for {m['n']} images", flush=True)
        rows.append(row)
    result = {"notice": RESEARCH_NOTICE, "data": str(root), "quick": args.quick, "size": size, "epochs": epochs,
              "weights": args.weights, "skipped": skipped, "seed": args.seed, "rows": rows, "paper": PAPER,
              "endoscopists": ENDOSCOPISTS, "total_s": round(time.perf_counter() - t_all, 1), "machine": _machine()}
    (out / "study.json").write_text(json.dumps(result, indent=2))
    (out / "study.md").write_text(study_markdown(result))
    plot_study(result, out)
    print(f"wrote {out}/study.md, study.json and figures (total {result['total_s']:.0f} s)")
    return 0


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[-60:]


def _machine() -> str:
    import os
    import platform

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()}"


def study_markdown(r: dict) -> str:
    def f(v):
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    lines = [f"# livescope study ({'quick' if r['quick'] else 'full'})", "", f"**{RESEARCH_NOTICE}**", "",
             f"Data: `{r['data']}`; input {r['size']}x{r['size']}; {r['epochs']} epochs; backbone weights: "
             f"{r['weights']}; seed {r['seed']}. Frozen backbone, head Dense 1024-512-256-64 (ReLU) + softmax, "
             "Adam 1e-4, batch 32, cross-entropy, trained on cached features (the paper's set-up). Validation split: "
             "stratified, 80/20 for A, 70/30 for B. Reading time: the whole validation set, files to decisions. "
             "livescope's figures with their 95 % bootstrap intervals in brackets.", ""]
    if r["weights"] == "none":
        lines += ["> Backbone weights `none`: random, frozen features. The paper used ImageNet weights; "
                  "without them the frozen transfer set-up has little to transfer, so these rows measure "
                  "the pipeline, not the method.", ""]
    for line in r.get("skipped", []):
        lines += [f"- {line}"]
    if r.get("skipped"):
        lines += [""]
    lines += ["| reader | A acc | A recall | A precision | A F1 | A time (s) | B acc | B macro-F1 | B time (s) |",
              "|---|---|---|---|---|---|---|---|---|"]
    def ci(m, key):  # the value and its 95 % bootstrap interval
        c = (m.get("ci95") or {}).get(key)
        return f(m.get(key)) + (f" ({c[0]:.2f}-{c[1]:.2f})" if c else "")

    for row in r["rows"]:
        a, b = row["A"], row["B"]
        lines.append(f"| {row['backbone']} (livescope, {_weights_label(row['weights'])}) | {ci(a, 'accuracy')} | "
                     f"{ci(a, 'recall')} | {ci(a, 'precision')} | {ci(a, 'f1')} | {a['reading_time_s']:.2f} (n={a['n']}) | "
                     f"{ci(b, 'accuracy')} | {ci(b, 'f1')} | {b['reading_time_s']:.2f} (n={b['n']}) |")
    for name, p in r["paper"].items():
        lines.append(f"| {name} (paper) | {f(p.get('A_accuracy'))} | {f(p.get('A_recall'))} | {f(p.get('A_precision'))} | "
                     f"{f(p.get('A_f1'))} | {p['A_time_s']} (n=229) | {f(p['B_accuracy'])} | - | {p['B_time_s']} (n=101) |")
    for name, p in r["endoscopists"].items():
        lines.append(f"| {name} (paper) | {p['A_accuracy']} | - | - | - | > 300 | {p['B_accuracy']} | - | > 300 |")
    lines += ["", "Majority-class baselines (accuracy of always saying the commonest class): "
              + "; ".join(f"{row['backbone']}: A {row['A']['majority_baseline']}, B {row['B']['majority_baseline']}"
                          for row in r["rows"]), "",
              "The paper's task B output is written as 'ReLU'; a 3-class output needs softmax, so livescope "
              "treats that as a misprint.", "",
              "![accuracy](fig_accuracy.png) ![reading time](fig_reading_time.png)", ""]
    return "\n".join(lines)


def _weights_label(w: str) -> str:
    return w if w in ("imagenet", "none", "hub") else f"weights {Path(w).name}"


def plot_study(r: dict, out: Path) -> None:
    names = [row["backbone"] for row in r["rows"]]
    lines = [(p[f"{task}_accuracy"], style, colour) for p in ENDOSCOPISTS.values()
             for task, style, colour in (("A", "--", "tab:blue"), ("B", ":", "tab:orange"))]
    _paired_bars(out / "fig_accuracy.png", names,
                 ([row["A"]["accuracy"] for row in r["rows"]], "task A"),
                 ([row["B"]["accuracy"] for row in r["rows"]], "task B"),
                 "validation accuracy", "Accuracy (lines: the paper's endoscopists, A dashed, B dotted)",
                 ylim=(0, 1), hlines=lines)
    _paired_bars(out / "fig_reading_time.png", names,
                 ([row["A"]["reading_time_s"] for row in r["rows"]], "livescope, task A"),
                 ([PAPER.get(n, {}).get("A_time_s") or 0 for n in names], "paper (M1), task A, 229 images"),
                 "seconds for the validation set", "Reading time (endoscopists: > 300 s)")


def _paired_bars(path: Path, names: list[str], left: tuple[list, str], right: tuple[list, str], ylabel: str,
                 title: str, ylim: tuple[float, float] | None = None, hlines: list | None = None) -> None:
    """Two bars per backbone (values, legend label), like the paper's figures 2 to 4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
    ax.bar(x - 0.2, left[0], 0.4, label=left[1])
    ax.bar(x + 0.2, right[0], 0.4, label=right[1])
    for y, style, colour in hlines or []:
        ax.axhline(y, ls=style, lw=0.8, color=colour)
    ax.set_xticks(x, names, rotation=15, fontsize=8)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
