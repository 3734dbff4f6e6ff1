"""What the README and the help texts tell a user to run gives what they say: the library example prints the
values in its comments, no command starts JupyterLab in a way that fails as root, and the full-MNIST benchmark
names only folders a user has."""

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def code_blocks(language):
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.M | re.S)


def test_the_library_example_prints_what_its_comments_say():
    block = next(b for b in code_blocks("python") if "check_layer" in b)
    claimed = [line.split("#", 1)[1].strip() for line in block.splitlines() if line.startswith("print(") and "#" in line]
    assert claimed, "the example has no print with a comment to check"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README example", "exec"), {"__name__": "__main__"})
    assert out.getvalue().splitlines() == claimed


def test_no_command_starts_jupyter_lab_in_a_way_that_fails_as_root():
    commands = [line for b in code_blocks("bash") for line in b.splitlines()]
    for line in commands:
        if re.search(r"jupyter[ -]lab\b", line):
            assert "--allow-root" in line, f"fails as root: {line}"
    assert any("python -m cnnlib.lab" in line for line in commands)
    for line in re.findall(r"`([^`]*jupyter lab[^`]*)`", README):
        assert "--allow-root" in line or line.strip() == "jupyter lab", f"fails as root: {line}"


def _mnist_full(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mnist_full.py"), *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=ROOT)


def test_mnist_full_help_names_only_what_a_user_has():
    run = _mnist_full("--help")
    assert run.returncode == 0, run.stderr
    assert "shared" not in run.stdout
    assert "--data-dir" in run.stdout and "CNNLIB_MNIST_DIR" in run.stdout and "download_mnist()" in run.stdout


def test_mnist_full_without_data_says_how_to_get_it(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("CNNLIB_MNIST_DIR", "XDG_CACHE_HOME")}
    env.update(CNNLIB_CACHE_DIR=str(tmp_path / "empty-cache"), PYTHONPATH=str(ROOT))
    run = _mnist_full(env=env)
    assert run.returncode == 1
    assert f"no MNIST directory at {tmp_path / 'empty-cache'}" in run.stderr
    assert "download_mnist()" in run.stderr and "shared" not in run.stderr
