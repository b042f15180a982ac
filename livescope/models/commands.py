"""CLI glue for `livescope train` and `livescope evaluate`."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from livescope.errors import LivescopeError


def _weights_digest(model) -> str:
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(w.tobytes())
    return h.hexdigest()


def assemble_cascade(gate: str, a: str, b: str, out: str) -> Path:
    """One live bundle from three single-task bundles that share one (frozen) backbone."""
    from livescope.card import make_card
    from livescope.models.bundle import load_bundle, save_bundle
    from livescope.models.head import assemble

    loaded = {task: load_bundle(p) for task, p in (("gate", gate), ("A", a), ("B", b))}
    sizes = {card["input_size"] for _, card in loaded.values()}
    if len(sizes) != 1:
        raise LivescopeError(f"the three bundles have different input sizes {sorted(sizes)}", "train them at one --size")
    digests = {task: _weights_digest(m.get_layer("backbone")) for task, (m, _) in loaded.items()}
    if len(set(digests.values())) != 1:
        raise LivescopeError("the three bundles do not share one backbone (weights differ)",
                             "train all three with the same --backbone and --weights, without --fine-tune")
    for task, (_, card) in loaded.items():
        if task not in card["tasks"]:
            raise LivescopeError(f"bundle given for {task} has heads {list(card['tasks'])}", "give gate, A and B bundles in that order")
    backbone = loaded["gate"][0].get_layer("backbone")
    heads = {task: m.get_layer(f"head_{task}") for task, (m, _) in loaded.items()}
    model = assemble(backbone, heads)
    first = loaded["gate"][1]
    card = make_card(
        task="cascade",
        tasks={task: c["tasks"][task] for task, (_, c) in loaded.items()},
        input_size=first["input_size"], preprocessing=first["preprocessing"], backbone=first["backbone"],
        data={task: c["data"] for task, (_, c) in loaded.items()},
        training={task: c["training"] for task, (_, c) in loaded.items()},
        metrics={task: c["metrics"] for task, (_, c) in loaded.items()},
        assembled_from={"gate": gate, "A": a, "B": b},
    )
    return save_bundle(model, card, out)


def run_train(args: argparse.Namespace) -> int:
    if args.ensemble:
        from livescope.models.ensemble import ensemble_bundles

        if len(args.ensemble) < 2:
            raise LivescopeError("--ensemble needs two or more bundles", "give the bundles of several seeds of one recipe")
        path = ensemble_bundles(args.ensemble, args.out)
        print(f"wrote ensemble bundle {path} ({len(args.ensemble)} members, mean of their probabilities)")
        return 0
    if args.cascade:
        path = assemble_cascade(*args.cascade, args.out)
        print(f"wrote cascade bundle {path}")
        return 0
    if not args.task or not args.data:
        raise LivescopeError("train needs --task and --data", "or --cascade GATE A B, or --recipe default")
    if args.task == "cascade":
        raise LivescopeError("--task cascade trains nothing by itself",
                             "train gate, A and B, then assemble with --cascade GATE A B (or use --recipe default)")
    from livescope.models.train import TrainConfig, train

    cfg = TrainConfig(task=args.task, data=args.data, backbone=args.backbone, weights=args.weights, out=args.out,
                      size=args.size, epochs=args.epochs or 30, batch_size=args.batch_size, lr=args.lr or 1e-4,
                      val_fraction=args.val_fraction, seed=args.seed, aug_draws=args.aug_draws,
                      early_stopping=args.early_stopping, fine_tune=args.fine_tune,
                      class_weights=not args.no_class_weights, crop=args.crop, cache=not args.no_cache,
                      hub_input_range=args.hub_input_range)
    out, card = train(cfg)
    m = card["metrics"]["validation"]
    print(f"wrote bundle {out}: task {args.task}, {args.backbone}@{card['input_size']}, "
          f"validation accuracy {m['accuracy']:.3f}, F1 {m['f1']:.3f} (n={m['n']})")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from livescope.models.evaluate import evaluate_bundle

    m = evaluate_bundle(args.bundle, args.data, args.out, task=args.task, split=args.split,
                        resamples=args.bootstrap, batch=args.batch_size, class_map=args.map)
    ci = m["ci95"]

    def fmt(key: str) -> str:
        v = m.get(key)
        if v is None:
            return f"{key} n/a"
        c = ci.get(key)
        return f"{key} {v:.3f}" + (f" [{c[0]:.3f}, {c[1]:.3f}]" if c else "")

    counts = ", ".join(f"{n} {lab}" for lab, n in m["counts"].items() if n)
    fixed = f"; the class map corrects {m['class_map_corrections']} single images" if m.get("class_map_corrections") else ""
    print(f"task {m['task']} on {m['images']} images ({counts}{fixed}): "
          + ", ".join(fmt(k) for k in ("accuracy", "precision", "recall", "f1", "roc_auc")))
    print(f"reading time {m['reading_time_s']:.2f} s for {m['images']} images; batch-1 latency p50 "
          f"{m['latency_ms_batch1']['p50']:.1f} ms; wrote {args.out}/metrics.json, predictions.csv, confusion_matrix.png, roc.png")
    return 0
