import argparse
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


def _main_without_tf(argv: list[str]) -> tuple[int, str, bool]:
    """Run the CLI in a fresh interpreter: (exit code, stderr, whether TensorFlow got imported)."""
    code = ("import sys\nfrom livescope.cli import main\n"
            f"rc = main({argv!r})\n"
            "print('TF' if 'tensorflow' in sys.modules else 'NO-TF')\nsys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return r.returncode, r.stderr.strip(), r.stdout.strip().endswith("TF") and not r.stdout.strip().endswith("NO-TF")


@pytest.mark.parametrize("argv,needle", [
    (["run", "/nonexistent/video.mp4", "--out", "/tmp/x"], "does not exist"),
    (["explain", "/nonexistent/still.png", "--out", "/tmp/x.png"], "does not exist"),
    (["demo", "--port", "70000"], "is not a port number"),
    (["score", "--check-videos", "a-b"], "are not numbers"),
    (["score", "--check-videos", "0", "runs/x", "truth.json"], "makes and scores its own runs"),
    (["score"], "needs a run folder and the phantom's truth JSON"),
    (["score", "--check-videos", "0", "--resmooth"], "re-score one recorded run"),
    (["score", "runs/x", "truth.json", "--card"], "records the figures of --check-videos"),
])
def test_bad_paths_and_ports_fail_before_tensorflow_loads(argv, needle):
    rc, err, tf_loaded = _main_without_tf(argv)
    lines = err.splitlines()
    assert rc == 2 and len(lines) == 1 and needle in lines[0], err
    assert not tf_loaded


def test_a_busy_port_is_one_line():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        rc, err, tf_loaded = _main_without_tf(["demo", "--port", str(port)])
    assert rc == 2 and len(err.splitlines()) == 1 and f"cannot serve on 127.0.0.1:{port}" in err
    assert not tf_loaded


@pytest.mark.parametrize("command", ["demo", "bench"])
def test_every_flag_has_help_and_shows_its_default(command):
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    options = sub.format_help().split("options:", 1)[1]
    entries = {}
    for block in options.split("\n  -")[1:]:
        entries[block.split()[0].rstrip(",")] = " ".join(block.split())
    for action in sub._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings} has no help"
        if action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
            entry = entries[action.option_strings[0][1:]]  # the split above took one of its dashes
            assert "(default:" in entry, (action.dest, entry)
