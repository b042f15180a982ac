"""Class maps: folders give labels per task, single images can be corrected (a dataset's folder
names a finding, not the view), and a bad map is one line. No shared data needed."""

import json

import cv2
import numpy as np
import pytest

from livescope.data.class_map import load_map
from livescope.data.dataset import load_labelled
from livescope.errors import LivescopeError


@pytest.fixture()
def folder(tmp_path):
    root = tmp_path / "data"
    for name, n in (("hemorrhoids", 2), ("polyps", 4)):
        (root / name).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(root / name / f"{i}.png"), np.full((40, 40, 3), 30 * i, np.uint8))
    return root


def _map(tmp_path, images=None):
    doc = {"classes": {"hemorrhoids": {"gate": "retroflex", "A": "hemorrhoid"}, "poly*": {"gate": "other"}}}
    if images is not None:
        doc["images"] = images
    path = tmp_path / "map.json"
    path.write_text(json.dumps(doc))
    return load_map(str(path))


def test_folder_labels_and_single_image_corrections(folder, tmp_path):
    plain = load_labelled(folder, "gate", _map(tmp_path), min_classes=1)
    assert plain.label_names == ["other", "retroflex"] and np.bincount(plain.labels).tolist() == [4, 2]
    cmap = _map(tmp_path, {"polyps/1.png": {"gate": "retroflex", "why": "shaft in view"},
                           "polyps/2.png": {"gate": None, "why": "cannot tell"}})
    assert cmap.corrected("gate") == 2 and cmap.corrected("A") == 0
    ds = load_labelled(folder, "gate", cmap, min_classes=1)
    label_of = {p.relative_to(folder).as_posix(): ds.label_names[k] for p, k in zip(ds.paths, ds.labels, strict=True)}
    assert label_of == {"hemorrhoids/0.png": "retroflex", "hemorrhoids/1.png": "retroflex", "polyps/0.png": "other",
                        "polyps/1.png": "retroflex", "polyps/3.png": "other"}  # polyps/2.png left out of the gate
    # The correction names the gate only: for task A the image keeps its folder's label (none).
    a = load_labelled(folder, "A", cmap, min_classes=1)
    assert sorted(p.relative_to(folder).as_posix() for p in a.paths) == ["hemorrhoids/0.png", "hemorrhoids/1.png"]


def test_shipped_maps_load_and_a_bad_map_is_one_line(tmp_path):
    audited, folders = load_map("hyperkvasir-lower-gi"), load_map("hyperkvasir-lower-gi-folders")
    assert audited.classes == folders.classes and folders.corrected("gate") == 0
    assert audited.corrected("gate") == 18  # 15 shaft-in-view views to retroflex, 3 unclear ones out
    assert all(e.get("gate") in ("retroflex", None) for e in audited.images.values())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"classes": {"x": {"gate": "other"}}, "images": ["not", "a", "dict"]}))
    with pytest.raises(LivescopeError, match="is not a class map"):
        load_map(str(bad))
    with pytest.raises(LivescopeError, match="shipped maps: hyperkvasir-lower-gi, hyperkvasir-lower-gi-folders"):
        load_map("no-such-map")
