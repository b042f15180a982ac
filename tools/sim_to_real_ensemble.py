"""Several phantom-only bundles scored on the real HyperKvasir frames, alone and as an ensemble.

    livescope train --recipe default --out runs/s2r-seed1 --seed 1 --real-data none   # and --seed 2
    python tools/sim_to_real_ensemble.py runs/default-recipe/phantom-only-seed{0,1,2,3}

Prints, for each bundle, for the mean of their gate probabilities (what `livescope train
--ensemble` ships) and for the mean of their logits, P(retroflex) of the 3 real
hemorrhoid views, how many of the other real retroflexed views (the shaft in view, found by the
class map's audit) are gated in, and the false-positive rate at the card's enter threshold on all
real forward views and on split 0's held-out ones (the same split for every bundle, so the rows
compare). Labels: `--map` (default: the audited `hyperkvasir-lower-gi`). An
experiment for the next round's recipe, not a held-out figure: the 3 retroflexed views were
watched while the phantom was changed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def main() -> None:
    from livescope.card import card_thresholds, read_card
    from livescope.models.cascade import Cascade
    from livescope.recipes.default import (
        REAL_DEFAULT,
        REAL_MAP,
        SIZE,
        _load_scored_sets,
        real_split,
        scored_sets,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", nargs="+", help="phantom-only bundles (same input size)")
    ap.add_argument("--real-data", default=str(REAL_DEFAULT))
    ap.add_argument("--map", default=REAL_MAP, help="class map (hyperkvasir-lower-gi-folders: the folders' labels alone)")
    args = ap.parse_args()
    real = Path(args.real_data)
    split = real_split(real, 0, args.map)
    named = {"retroflex": "retroflex", "forward": "forward_all", "held-out forward": "forward_test",
             "shaft in view": "gate_only_all"}  # this tool's rows: the recipe's scored sets
    by_name = scored_sets(split)
    sets = {k: by_name[v] for k, v in named.items()}
    loaded = _load_scored_sets(real, split, SIZE)
    images = {k: loaded[v] for k, v in named.items()}
    # The part of the forward views the recipe's fine-tune trains on: the one to choose by.
    held = set(sets["held-out forward"])
    choosing = np.array([p not in held for p in sets["forward"]])
    enter = card_thresholds(read_card(Path(args.bundles[0])))["gate_enter"]
    p_retroflex = []
    for bundle in args.bundles:
        cascade = Cascade(bundle)
        gate = read_card(Path(bundle))["tasks"]["gate"]["labels"].index("retroflex")
        p_retroflex.append({k: np.array([r.probs["gate"][gate] for i in range(0, len(x), 32)
                                         for r in cascade.analyse(x[i:i + 32], cam=False)])
                            for k, x in images.items()})
    def mean_probability(ps: list[np.ndarray]) -> np.ndarray:
        return np.mean(ps, axis=0)

    def mean_logit(ps: list[np.ndarray]) -> np.ndarray:  # what averaging the members' logits gives (2 classes)
        return 1 / (1 + np.exp(-np.mean([_logit(p) for p in ps], axis=0)))

    rows = [(str(b), [p], mean_probability) for b, p in zip(args.bundles, p_retroflex, strict=True)]
    rows.append((f"mean of {len(p_retroflex)}", p_retroflex, mean_probability))
    rows.append((f"mean log-odds of {len(p_retroflex)}", p_retroflex, mean_logit))
    for name, group, combine in rows:
        mean = {k: combine([p[k] for p in group]) for k in sets}
        gated = int((mean["retroflex"] >= enter).sum())
        print(f"{name}: P(retroflex) {[round(float(v), 2) for v in mean['retroflex']]} -> {gated} of {len(sets['retroflex'])} "
              f"gated in at {enter}; other retroflexed views {int((mean['shaft in view'] >= enter).sum())} of "
              f"{len(sets['shaft in view'])}; false positives {100 * (mean['forward'] >= enter).mean():.1f} % of "
              f"{len(sets['forward'])} forward views, {100 * (mean['forward'][choosing] >= enter).mean():.1f} % of the "
              f"{int(choosing.sum())} the fine-tune trains on (choosing), "
              f"{100 * (mean['held-out forward'] >= enter).mean():.1f} % of "
              f"the {len(sets['held-out forward'])} held out (split 0)")


if __name__ == "__main__":
    main()
