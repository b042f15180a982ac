"""The default recipe's phantom-only stage trained several times from one start (the same ImageNet
backbone, the same head weights, the same phantom images), differing only in the order and
augmentation of the data; then the uniform average of their weights (a "model soup").

    python tools/phantom_only_orders.py runs/orders --seed 0 --orders 1,2 --reuse runs/default-recipe/phantom-only-seed0
    python tools/sim_to_real_ensemble.py runs/default-recipe/phantom-only-seed0 runs/orders/order1 runs/orders/order2 runs/orders/soup

Order 0 is the recipe's own stage 2 (`--reuse` takes an existing one instead of training it again).
An experiment on run-to-run noise for the README's sim-to-real table, not part of the recipe.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    from livescope.card import read_card
    from livescope.models.bundle import load_bundle, save_bundle
    from livescope.recipes import default as recipe

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="folder for order0 ... orderN and soup")
    ap.add_argument("--seed", type=int, default=0, help="the recipe seed: phantom data and head start")
    ap.add_argument("--orders", default="1,2", help="data-order seeds besides the recipe's own (0)")
    ap.add_argument("--reuse", help="an existing phantom-only bundle of this seed to take as order 0")
    ap.add_argument("--work", default="runs/default-recipe", help="the recipe's work folder (phantom data)")
    args = ap.parse_args()
    out, sched = Path(args.out), recipe.Schedule()
    weights = recipe.imagenet_weights("imagenet")
    ptrain, _ = recipe._phantom_sets(Path(args.work), args.seed, 1500, 1800, 600, 450)
    x, y = recipe._arrays(recipe._phantom_rows(ptrain), {}, recipe.SIZE)
    members = []
    for order in [0] + [int(o) for o in args.orders.split(",")]:
        if order == 0 and args.reuse:
            members.append(Path(args.reuse))
            continue
        model = recipe.build_model(recipe.SIZE, weights, args.seed, sched.freeze_blocks)  # one start for all
        recipe.fit(model, x, y, None, sched.epochs, sched.lr, args.seed + order, sched.batch)
        card = recipe._card(recipe.SIZE, weights, args.seed, out / f"order{order}", ptrain, 1500, 1800, None, sched,
                            {"phantom_only": {"data_order_seed": args.seed + order}}, len(x))
        save_bundle(model, card, out / f"order{order}")
        members.append(out / f"order{order}")
    models = [load_bundle(m)[0] for m in members]
    stacked = [m.get_weights() for m in models]
    models[0].set_weights([np.mean([w[i] for w in stacked], axis=0).astype(stacked[0][i].dtype)
                           for i in range(len(stacked[0]))])
    save_bundle(models[0], read_card(members[0]), out / "soup")
    print(f"orders: {[str(m) for m in members]}; their weight average: {out / 'soup'}")


if __name__ == "__main__":
    main()
