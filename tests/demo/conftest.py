import socket

import pytest


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="session")
def demo_server(tiny_bundles):
    """The real Gradio server on localhost, serving the tiny cascade bundle."""
    from livescope.demo.app import build_app, launch

    app = build_app(str(tiny_bundles["cascade"]), max_upload_mb=20)
    port = free_port()
    launch(app, "127.0.0.1", port, block=False, max_upload_mb=20)
    yield app, f"http://127.0.0.1:{port}/"
    app.close()
