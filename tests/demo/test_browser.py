"""Headless Chromium (Debian's) against the real page: run a sample image, wait for the heatmap."""

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_page_runs_a_sample_image(demo_server, phantom_set, tmp_path):
    pw = pytest.importorskip("playwright.sync_api")
    img = next((phantom_set / "taskB" / "Rf1").iterdir())
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-quic"])
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(demo_server[1], wait_until="load")
        page.locator("#analyse-image").wait_for(state="visible", timeout=60000)
        assert "Research use only" in page.content()
        page.locator("input[type=file]").first.set_input_files(str(img))
        page.locator("#analyse-image").click()
        page.locator("#triptych img").first.wait_for(state="visible", timeout=60000)
        page.wait_for_timeout(500)
        shot = tmp_path / "demo-image-tab.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20000
        text = page.content()
        assert "retroflex" in text
        browser.close()
