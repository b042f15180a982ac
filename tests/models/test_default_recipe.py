"""The default model's recipe, end to end at toy size (the real run takes about 30 minutes)."""

import json

import numpy as np

from livescope.cli import build_parser


def test_recipe_command_uses_the_recipe_epochs():
    # The documented command must train what the card says: the recipe's 14 epochs, not the
    # paper's 30 that `train --task` defaults to.
    args = build_parser().parse_args(["train", "--recipe", "default", "--out", "x"])
    assert args.epochs is None


def test_recipe_trains_measures_and_writes_a_card(real_data, tmp_path):
    from livescope.models.cascade import Cascade
    from livescope.models.default_recipe import REAL_FORWARD_WEIGHT, train_default

    out = train_default(tmp_path / "bundle", real_data=str(real_data), size=32, epochs=1, phantom_count=24,
                        b_count=12, work=tmp_path / "work", video_check=False, test_count=12, test_b_count=6)
    card = json.loads((out / "card.json").read_text())
    assert card["command"].startswith("livescope train --recipe default")
    assert card["training"]["epochs"] == 1 and f"{REAL_FORWARD_WEIGHT:g}x" in card["training"]["loss"]
    m = card["metrics"]
    assert m["real_forward_heldout"]["n"] == len(card["data"]["real"]["split"]["forward_test"]) > 200
    assert 0 <= m["real_forward_heldout"]["gate_false_positive_rate_at_enter_threshold"] <= 1
    assert len(m["real_retroflex"]["images"]) == 3
    assert set(m["phantom_test"]) >= {"gate_accuracy", "A_accuracy", "B_accuracy"}
    assert "not for diagnosis" in (out / "README.md").read_text().lower()
    # The bundle it wrote runs as the live cascade does.
    res = Cascade(out).analyse(np.zeros((2, 32, 32, 3), np.uint8), cam=False)
    assert len(res) == 2 and res[0].probs["gate"].shape == (2,)
