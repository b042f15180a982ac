"""The default model's recipe, end to end at toy size (the real run takes about half an hour):
its own schedule, the phantom-only stage scored on every real image, leave-one-out, the card."""

import json

import numpy as np


def test_recipe_trains_measures_and_writes_a_card(real_data, tmp_path):
    from livescope.models.cascade import Cascade
    from livescope.recipes.default import REAL_FORWARD_WEIGHT, Schedule, train_default

    out = train_default(tmp_path / "bundle", real_data=str(real_data), size=32, phantom_count=24, b_count=12,
                        work=tmp_path / "work", video_check=False, test_count=12, test_b_count=6, members=2)
    card = json.loads((out / "card.json").read_text())
    assert card["command"].startswith("livescope train --recipe default") and "--members 2" in card["command"]
    # The recipe's own schedule, as the documented command runs it (no epochs given).
    assert card["training"]["schedule"]["epochs"] == Schedule.epochs
    assert card["training"]["stages"]["phantom_only"]["epochs"] == Schedule.epochs
    assert card["training"]["stages"]["with_real"]["epochs"] == Schedule.finetune_epochs
    assert f"{REAL_FORWARD_WEIGHT:g}x" in card["training"]["loss"]
    m = card["metrics"]
    n_forward = card["data"]["real"]["forward_train"] + card["data"]["real"]["forward_test"]
    assert m["real_forward_heldout"]["n"] == len(card["data"]["real"]["split"]["forward_test"]) > 200
    assert 0 <= m["real_forward_heldout"]["false_positive_rate_at_enter_threshold"] <= 1
    assert len(m["real_retroflex"]["images"]) == 3
    # Sim-to-real: every real image scored by the phantom-only stage.
    sim = m["sim_to_real"]
    assert sim["of"] == 3 and len(sim["retroflex"]) == 3 and sim["forward"]["n"] == n_forward
    assert all({"p_retroflex", "p_hemorrhoid", "gate_in"} <= set(e) for e in sim["retroflex"])
    # The class map's corrections (the shaft in view in a polyp or colitis image): retroflexed views
    # with a gate label only, split like the forward views; the held-out ones scored on the shipped model.
    real = card["data"]["real"]
    held = set(real["split"]["retroflex_gate_only_test"])
    assert real["class_map_corrections"] == 18 and real["retroflex_gate_only_test"] == len(held) > 0
    assert not held & set(real["split"]["retroflex_gate_only_train"])
    assert sim["retroflex_gate_only"]["n"] == real["retroflex_gate_only_train"] + len(held)
    assert {e["image"] for e in m["real_retroflex_gate_only_heldout"]["images"]} == held
    # Leave-one-out: each real retroflexed image left out once, and scored.
    loo = m["leave_one_out"]
    assert sorted(e["left_out"] for e in loo["images"]) == sorted(card["data"]["real"]["split"]["retroflex"])
    assert all(0 <= e["p_retroflex"] <= 1 for e in loo["images"])
    assert set(m["phantom_test"]) >= {"gate_accuracy", "A_accuracy", "B_accuracy"}
    assert card["preprocessing"]["mask_outside_area"] is True
    # An ensemble of two runs (seeds 0 and 1), each trained and scored on its own, on one real split.
    assert card["backbone"]["members"] == 2 and card["backbone"]["member_seeds"] == [0, 1]
    assert [e["seed"] for e in sim["members"]] == [0, 1]
    assert [e["seed"] for e in card["training"]["stages"]["with_real"]["members"]] == [0, 1]
    for e in loo["images"]:  # the ensemble's probability is the mean of its members' (each trained without it)
        assert len(e["members_p_retroflex"]) == 2
        assert abs(e["p_retroflex"] - np.mean(e["members_p_retroflex"])) < 2e-3
    text = (out / "README.md").read_text()
    assert "not for diagnosis" in text.lower() and "Leave-one-out" in text and "an ensemble of 2" in text
    # The bundle it wrote runs as the live cascade does.
    res = Cascade(out).analyse(np.zeros((2, 32, 32, 3), np.uint8), cam=False)
    assert len(res) == 2 and res[0].probs["gate"].shape == (2,)


def test_phantom_only_recipe_ships_the_phantom_model(real_data, tmp_path):
    from livescope.recipes.default import train_default

    out = train_default(tmp_path / "sim", real_data="none", size=32, epochs=1, phantom_count=24, b_count=12,
                        work=tmp_path / "work", video_check=False, test_count=12, test_b_count=6, members=1)
    card = json.loads((out / "card.json").read_text())
    assert card["data"]["real"] is None and "--real-data none" in card["command"]
    assert card["backbone"]["members"] == 1 and "--members 1" in card["command"]
    assert "leave_one_out" not in card["metrics"] and card["metrics"]["sim_to_real"]["of"] == 3
    assert "only (no real image)" in card["synthetic_data_notice"]


def test_one_member_recipe_ships_one_model(real_data, tmp_path):
    """`--members 1`: one model, as before the ensemble (no member lists, the fine-tuned model itself)."""
    from livescope.models.cascade import Cascade
    from livescope.recipes.default import train_default

    out = train_default(tmp_path / "one", real_data=str(real_data), size=32, epochs=1, finetune_epochs=1,
                        phantom_count=24, b_count=12, work=tmp_path / "work", video_check=False, test_count=12,
                        test_b_count=6, members=1)
    card = json.loads((out / "card.json").read_text())
    assert card["backbone"]["members"] == 1 and "--members 1" in card["command"]
    m = card["metrics"]
    assert "members" not in m["sim_to_real"] and len(m["leave_one_out"]["images"]) == 3
    assert all("members_p_retroflex" not in e for e in m["leave_one_out"]["images"])
    assert "members" not in card["training"]["stages"]["with_real"]
    # One backbone, not several side by side.
    cascade = Cascade(out, engine="keras")
    assert not any(layer.name.startswith("backbone_member") for layer in cascade.backbone.layers)
