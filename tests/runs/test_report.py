"""The procedure report as a clinician reads it: verdict on top, episode cards whose time range
plays the embedded video from there (checked in headless Chromium), named probabilities, the
LDRf table, the model card as a table, a PDF of the same page; a truncated recording says so."""

import json
import shutil
import subprocess
import sys

import pytest

from livescope.runs.session import run_source

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def run_with_episode(short_video, tiny_bundles, tmp_path_factory):
    """A run whose thresholds let the tiny model find an episode (the card's own would not)."""
    from livescope.models.cascade import Cascade

    cascade = Cascade(tiny_bundles["cascade"], engine="keras")
    cascade.thresholds = {**cascade.thresholds, "gate_enter": 0.0, "gate_exit": 0.0, "confidence": 0.0}
    cascade.card = {**cascade.card, "intended_use": "Research only; train your own with `livescope study`."}
    out = tmp_path_factory.mktemp("report") / "run"
    report, _ = run_source(str(short_video), out=out, cascade=cascade)
    return out, report


def test_report_page_has_the_verdict_cards_and_tables(run_with_episode):
    out, report = run_with_episode
    v = report["verdict"]
    assert v["episodes"] == len(report["episodes"]) >= 1 and v["frames"] == report["summary"]["frames"]
    assert v["time_in_retroflexion_s"] > 0
    html = (out / "report.html").read_text()
    for needle in ("Procedure report", "highest LDRf grade seen", "time in retroflexion", "frames analysed",
                   'id="procedure"', 'class="seek"', "LDRf bleeding-risk factors", "red colour signs",
                   "China Journal of Endoscopy", "Research use only", "<th>backbone</th>"):
        assert needle in html, needle
    assert "`" not in html and "<code>livescope study</code>" in html  # no literal back-ticks
    cards = html[html.index("<h2>Episodes</h2>"):html.index("<h2>Timeline</h2>")]
    assert "P(" in cards and "confidence" not in cards.lower()  # every probability named, never a bare "confidence"
    ep = report["episodes"][0]
    assert (out / ep["key_frame"]).exists() and (out / ep["key_frame_heatmap"]).exists()


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_an_episode_link_plays_the_video_from_there(run_with_episode):
    pw = pytest.importorskip("playwright.sync_api")
    out, report = run_with_episode
    start = report["episodes"][-1]["start_s"]
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto((out / "report.html").resolve().as_uri(), wait_until="load")
        page.wait_for_function("document.getElementById('procedure').readyState >= 1", timeout=30000)
        assert page.evaluate("document.getElementById('procedure').duration") > 7
        page.locator("a.seek").last.click()
        page.wait_for_function(f"Math.abs(document.getElementById('procedure').currentTime - {start}) < 0.6",
                               timeout=15000)
        browser.close()


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_pdf_of_the_same_page(run_with_episode):
    from livescope.runs.report import write_pdf

    out, _ = run_with_episode
    pdf = write_pdf(out / "report.html", out / "report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20000


def test_a_truncated_recording_says_where_it_ended(short_video, tiny_bundles, tmp_path):
    cut = tmp_path / "cut.mp4"
    data = short_video.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.45)])
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "run", str(cut), "--model", str(tiny_bundles["cascade"]),
                        "--no-window", "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    warning = [ln for ln in r.stderr.splitlines() if "ended early" in ln]
    assert len(warning) == 1 and "of its 8.0 s" in warning[0] and "truncated" in warning[0]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert "ended early" in report["summary"]["ended_early"]
    assert "ended early" in (tmp_path / "run" / "report.html").read_text()
    # a whole file says nothing of the kind
    r2 = subprocess.run([sys.executable, "-m", "livescope.cli", "run", str(short_video), "--model",
                         str(tiny_bundles["cascade"]), "--no-window", "--no-record", "--out", str(tmp_path / "whole")],
                        capture_output=True, text=True)
    assert r2.returncode == 0 and "ended early" not in r2.stderr
