import argparse
import json

from livescope.models.study import run_study


def test_study_end_to_end_with_a_tiny_backbone(phantom_set, tmp_path):
    args = argparse.Namespace(data=str(phantom_set), out=str(tmp_path / "study"), backbones=["tiny_cnn"],
                              weights="none", quick=True, epochs=2, size=32, seed=0)
    assert run_study(args) == 0
    r = json.loads((tmp_path / "study" / "study.json").read_text())
    row = r["rows"][0]
    for task in ("A", "B"):
        assert 0 <= row[task]["accuracy"] <= 1 and row[task]["reading_time_s"] > 0 and row[task]["n"] > 0
    md = (tmp_path / "study" / "study.md").read_text()
    for needle in ("convmixer_768_32 (paper)", "senior endoscopist", "0.961", "misprint", "Research use only"):
        assert needle in md
    assert (tmp_path / "study" / "fig_accuracy.png").stat().st_size > 5000
    assert (tmp_path / "study" / "fig_reading_time.png").stat().st_size > 5000


def test_study_takes_weights_per_backbone_and_says_what_it_skips(phantom_set, tmp_path, capsys):
    from livescope.models.backbones import backbone_core, build_backbone
    from livescope.models.study import study_backbones

    weights = tmp_path / "tiny.weights.h5"
    backbone_core(build_backbone("tiny_cnn", 32, "none")).save_weights(weights)
    plan, skipped = study_backbones(["tiny_cnn", "xception", "vit_s16"], f"tiny_cnn={weights}")
    assert plan == [("tiny_cnn", str(weights))]
    assert len(skipped) == 2 and all(line.startswith("skipped ") and "\n" not in line for line in skipped)
    assert "no weights given" in skipped[0] and "--weights none" in skipped[0]
    plan, skipped = study_backbones(["xception", "vit_s16"], "imagenet")
    assert [p[0] for p in plan] == ["xception"] and "tfhub:" in skipped[0]  # ViT: no Keras ImageNet weights
    plan, skipped = study_backbones(["xception", "vit_s16"], "none")
    assert len(plan) == 2 and not skipped  # random features only when asked for explicitly
    args = argparse.Namespace(data=str(phantom_set), out=str(tmp_path / "study"), backbones=["tiny_cnn", "resnet50v2"],
                              weights=f"tiny_cnn={weights}", quick=True, epochs=1, size=32, seed=0)
    assert run_study(args) == 0
    out = capsys.readouterr().out
    assert "skipped resnet50v2: no weights given" in out
    r = json.loads((tmp_path / "study" / "study.json").read_text())
    assert [row["backbone"] for row in r["rows"]] == ["tiny_cnn"] and r["skipped"]
    assert "skipped resnet50v2" in (tmp_path / "study" / "study.md").read_text()
