"""Every endpoint of the real Gradio server, driven by the real gradio_client with real files."""

import json

import av
import pytest
from gradio_client import Client, handle_file


@pytest.fixture(scope="module")
def client(demo_server):
    return Client(demo_server[1], verbose=False)


def test_binds_to_localhost_with_upload_cap(demo_server):
    app, url = demo_server
    assert url.startswith("http://127.0.0.1:")
    assert app.share is False
    assert app.max_file_size == 20 * 1024 * 1024


def test_image_endpoint(client, phantom_set):
    img = next((phantom_set / "taskB" / "Rf2").iterdir())
    gate, a, b, decision, trip = client.predict(handle_file(str(img)), "cascade", api_name="/analyse_image")
    assert {c["label"] for c in gate["confidences"]} == {"other", "retroflex"}
    assert a is None or {c["label"] for c in a["confidences"]} == {"normal", "hemorrhoid"}
    assert isinstance(decision, str) and ("P(retroflex view)" in decision)
    import cv2

    pic = cv2.imread(trip)
    assert pic is not None and pic.shape[1] > 2 * pic.shape[0]


def test_several_images_make_a_gallery(client, phantom_set):
    imgs = [handle_file(str(p)) for p in sorted((phantom_set / "taskA" / "normal").iterdir())[:3]]
    rows = client.predict(imgs, "cascade", api_name="/analyse_images")
    assert len(rows) == 3 and all(r["caption"] for r in rows)


def test_video_endpoint(client, short_video):
    video, timeline, table, gallery, files, status = client.predict(
        handle_file(str(short_video)), "cascade", api_name="/analyse_video")
    path = video["video"] if isinstance(video, dict) else video
    with av.open(path) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in c.decode(video=0)) == json.loads(short_video.with_suffix(".json").read_text())["frames"]
    report = next(f for f in files if f.endswith("report.json"))
    r = json.loads(open(report).read())
    assert "episodes" in r and "not a medical device" in r["notice"].lower()
    assert "frames" in status


def test_corrupt_upload_gives_a_message_and_the_server_goes_on(client, tmp_path, phantom_set):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(Exception) as exc:  # noqa: B017 - gradio_client wraps the app's error
        client.predict(handle_file(str(bad)), "cascade", api_name="/analyse_video")
    assert "not a readable video" in str(exc.value)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(Exception, match="empty|upload"):  # noqa: B017 - gradio_client wraps the app's error
        client.predict(handle_file(str(empty)), "cascade", api_name="/analyse_video")
    img = next((phantom_set / "gate" / "other").iterdir())
    assert client.predict(handle_file(str(img)), "cascade", api_name="/analyse_image")[3]


def test_live_state_is_per_session(demo_server, phantom_set):
    one, two = Client(demo_server[1], verbose=False), Client(demo_server[1], verbose=False)
    frame = handle_file(str(next((phantom_set / "gate" / "retroflex").iterdir())))
    for _ in range(3):
        out1, info1 = one.predict(frame, "cascade", api_name="/live_frame")
    out2, info2 = two.predict(frame, "cascade", api_name="/live_frame")
    assert json.loads(info1)["frames"] == 3
    assert json.loads(info2)["frames"] == 1


def test_model_card_travels_as_data(client):
    md, card = client.predict("cascade", api_name="/model_card")  # a "path" key made this a 403
    assert "Research use only" in md and "<table>" in md and "`" not in md
    assert set(card["tasks"]) == {"gate", "A", "B"}
    assert card["data"]["phantom_train"]["location"] == "runs/default-recipe/phantom-train-1000"
