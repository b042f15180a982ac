import subprocess
import sys

import pytest

from livescope.cli import build_parser, main

SUBCOMMANDS = ["synth", "train", "evaluate", "study", "explain", "run", "score", "bench", "demo", "doctor"]


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in text
    assert "not a medical device" in text.lower()


def test_help_does_not_import_tensorflow():
    code = ("import sys; from livescope.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TF' if 'tensorflow' in sys.modules else 'NO-TF')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("NO-TF")


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "livescope" in capsys.readouterr().out


def test_every_subcommand_has_help():
    parser = build_parser()
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0


def test_doctor_reports_truthfully_and_exits_zero():
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "doctor"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for key in ("python", "tensorflow", "keras", "opencv", "pyav", "gradio", "compute", "capture", "weights"):
        assert key in out
    assert "no GPU visible" in out  # this machine has none
    assert "no capture device" in out or "/dev/video" in out
    assert "oneDNN" not in r.stderr and "absl" not in r.stderr  # quiet start-up


def test_user_error_is_one_line_with_exit_2():
    r = subprocess.run([sys.executable, "-m", "livescope.cli", "run", "/nonexistent/video.mp4", "--out", "/tmp/x"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "does not exist" in lines[0]
    assert "Traceback" not in r.stderr
