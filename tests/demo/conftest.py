import socket

import pytest


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="session")
def demo_server(tiny_bundles, tmp_path_factory):
    """The real Gradio server on localhost, serving the tiny cascade bundle."""
    import json
    import shutil

    from livescope.demo.app import build_app, launch

    # A card with a "path" key, as the default model's has: it must travel as data.
    bundle = tmp_path_factory.mktemp("demo") / "cascade"
    shutil.copytree(tiny_bundles["cascade"], bundle)
    card = json.loads((bundle / "card.json").read_text())
    card["data"] = {"phantom_train": {"path": "runs/default-recipe/phantom-train-1000"}}
    (bundle / "card.json").write_text(json.dumps(card))
    app = build_app(str(bundle), max_upload_mb=20)
    port = free_port()
    launch(app, "127.0.0.1", port, block=False, max_upload_mb=20)
    yield app, f"http://127.0.0.1:{port}/"
    app.close()
