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
