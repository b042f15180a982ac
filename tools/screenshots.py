"""Make the README's screenshots from real runs: python tools/screenshots.py runs/demo

Needs Debian's chromium and the dev extra (playwright, driving that chromium)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import av
import cv2

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]


def overlay(run: Path) -> None:
    report = json.loads((run / "report.json").read_text())
    ep = next((e for e in report["episodes"] if e.get("grade", "").startswith("Rf")), report["episodes"][0])
    want = int(ep["start_frame"] + 0.7 * (ep["end_frame"] - ep["start_frame"]))  # the grade is shown by then
    with av.open(str(run / "annotated.mp4")) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == want:
                cv2.imwrite(str(DOCS / "overlay.png"), f.to_ndarray(format="bgr24"))
                break


def phantom_sheet() -> None:
    from livescope.phantom.dataset import compare_sheet, contact_sheet

    contact_sheet(DOCS / "phantom-sheet.png")
    real = ROOT.parent / "shared" / "data" / "hyperkvasir-lower-gi"
    if real.exists():  # real images beside phantom ones: written to runs/, never into the repository
        compare_sheet(ROOT / "runs" / "phantom-vs-real.png", real, "hyperkvasir-lower-gi", per_class=6, size=160)


def report_page(run: Path) -> None:
    chromium = shutil.which("chromium")
    subprocess.run([chromium, *ARGS, "--window-size=1150,1900", f"--screenshot={DOCS / 'report.png'}",
                    (run / "report.html").resolve().as_uri()], check=True, capture_output=True)


def demo_pages() -> None:
    from playwright.sync_api import sync_playwright

    from livescope.demo.app import build_app, launch

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    app = build_app(None)
    launch(app, "127.0.0.1", port, block=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        page = b.new_page(viewport={"width": 1280, "height": 1500})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
        page.locator("#analyse-image").wait_for(state="visible", timeout=60000)
        page.locator("input[type=file]").first.set_input_files(str(ROOT / "samples" / "still_Rf1_1.jpg"))
        page.locator("#analyse-image").click()
        page.locator("#triptych img").first.wait_for(state="visible", timeout=60000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(DOCS / "demo-image.png"), full_page=True)
        page.get_by_role("tab", name="Recorded procedure").click()
        page.wait_for_timeout(1500)
        inputs = page.locator("input[type=file]")
        for i in range(inputs.count()):
            if "video" in (inputs.nth(i).get_attribute("accept") or ""):
                inputs.nth(i).set_input_files(str(ROOT / "samples" / "demo.mp4"))
                break
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="Analyse video").click()
        page.locator("img[src*='timeline']").first.wait_for(state="visible", timeout=300000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(DOCS / "demo-video.png"), full_page=True)
        b.close()
    app.close()


if __name__ == "__main__":
    run = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "runs" / "demo")
    DOCS.mkdir(exist_ok=True)
    phantom_sheet()
    overlay(run)
    report_page(run)
    demo_pages()
    print("wrote", sorted(p.name for p in DOCS.glob("*.png")))
