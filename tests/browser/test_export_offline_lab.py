"""After the recipe of ``make notebooks`` (execute in place, then ``python -m cnnlib.lab --prepare``) a notebook
opens in JupyterLab clean: its kernel starts, nothing marks it modified, and the server logs no "not trusted". The
same notebook executed without the last step (kernelspec "Python 3", never trusted here) shows both, so the checks
can fail."""

import json
import re
import secrets
import shutil
import subprocess
import sys
import time

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from browser_support import NOTEBOOK_TIMEOUT_MS, REPO, Server, free_port

SETTLE_S = 4  # JupyterLab rewrites a notebook's kernelspec right after its kernel connects


def old_style_notebook(path):
    nb = new_notebook(cells=[
        new_markdown_cell("# 01 · A notebook\n\nThe output error is $\\delta^L = \\hat y - y$."),
        new_code_cell("from IPython.display import HTML\nHTML('<b>bold</b>')", execution_count=1, outputs=[
            new_output("execute_result", data={"text/html": "<b>bold</b>", "text/plain": "<IPython.core.display.HTML>"},
                       execution_count=1)]),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def notebooks_recipe():
    """The shell commands of the Makefile's ``notebooks`` target, with $(BIN) this Python's bin folder."""
    make = (REPO / "Makefile").read_text().replace("\\\n", " ")
    body = re.search(r"^notebooks:.*\n((?:\t.*\n)+)", make, re.M).group(1)
    bin_dir = str(Path(sys.executable).parent)
    return [line.strip().replace("$(BIN)", bin_dir) for line in body.splitlines() if line.strip()]


def run_in(folder, command, env):
    run = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{command}\n{run.stdout}{run.stderr}"
    return run.stdout + run.stderr


@pytest.fixture
def served(tmp_path, jupyter_env):
    env = dict(jupyter_env, JUPYTER_DATA_DIR=str(tmp_path / "data"))  # a trust database of this test's own
    recipe = notebooks_recipe()
    assert len(recipe) == 2 and "--execute" in recipe[0] and "cnnlib.lab --prepare" in recipe[1], recipe
    for name in ("prepared", "as_committed"):
        (tmp_path / name / "notebooks").mkdir(parents=True)
        old_style_notebook(tmp_path / name / "notebooks" / f"01_{name}.ipynb")
        said = run_in(tmp_path / name, recipe[0], env)
        assert "without encryption" not in said, said  # the kernels make notebooks starts stay quiet
    said = run_in(tmp_path / "prepared", recipe[1], env)
    assert "kernelspec set in 1 of 1" in said and "1 newly signed" in said, said
    spec = nbformat.read(tmp_path / "prepared" / "notebooks" / "01_prepared.ipynb", as_version=4).metadata.kernelspec
    installed = json.loads(subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
                                          capture_output=True, text=True, env=env).stdout)["kernelspecs"]["python3"]
    assert spec == {"name": "python3", "display_name": installed["spec"]["display_name"], "language": "python"}

    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.token={token}", "--ServerApp.allow_root=True",
           f"--ServerApp.root_dir={tmp_path}", "--KernelManager.transport_encryption=auto",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    base = f"http://127.0.0.1:{port}"
    server = Server("jupyterlab (clean open)", cmd, f"{base}/api/status?token={token}", base, env, tmp_path,
                    tmp_path / "lab.log")
    server.token = token
    server.start()
    yield server
    server.stop()


def dirty(page, path):
    """The locator of ``path``'s tab when it carries JupyterLab's modified mark."""
    return page.locator(".lm-TabBar-tab.jp-mod-dirty", has_text=Path(path).name)


def open_notebook(page, server, path):
    """Open ``path`` in JupyterLab, in a workspace of its own (nothing else is restored beside it), and wait until
    its kernel is idle; -> the server log lines written meanwhile."""
    before = len(server.log_path.read_text(errors="replace").splitlines())
    workspace = Path(path).stem
    page.goto(f"{server.base_url}/lab/workspaces/{workspace}/tree/{path}?token={server.token}",
              timeout=NOTEBOOK_TIMEOUT_MS)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=NOTEBOOK_TIMEOUT_MS)
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():
        dialog.get_by_role("button", name="Select").click()
    page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=NOTEBOOK_TIMEOUT_MS)
    return server.log_path.read_text(errors="replace").splitlines()[before:]


def test_a_prepared_notebook_opens_clean_and_an_old_one_does_not(served, page):
    old, new = "as_committed/notebooks/01_as_committed.ipynb", "prepared/notebooks/01_prepared.ipynb"
    log = open_notebook(page, served, old)
    dirty(page, old).wait_for(timeout=30_000)  # control: Lab rewrites the old kernelspec, so it is modified
    assert [line for line in log if "not trusted" in line], "control: an unsigned notebook should be logged"

    log = open_notebook(page, served, new)
    time.sleep(SETTLE_S)
    assert page.locator(".lm-TabBar-tab", has_text=Path(new).name).count() == 1
    assert dirty(page, new).count() == 0, "the prepared notebook shows as modified right after opening"
    assert not [line for line in log if "not trusted" in line], log
    assert not [line for line in log if "without encryption" in line], log


def test_lab_launcher_adds_allow_root_only_for_root():
    from cnnlib.lab import lab_command

    assert lab_command(["--port", "1"], "nb", root=True)[3:] == ["--allow-root", "--port", "1", "nb"]
    assert "--allow-root" not in lab_command([], "nb", root=False)


def _start_lab(cmd_prefix, tmp_path, env, name):
    port, token = free_port(), secrets.token_hex(16)
    cmd = cmd_prefix + [sys.executable, "-m", "cnnlib.lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                        "--ServerApp.port_retries=0", f"--ServerApp.token={token}"]
    base = f"http://127.0.0.1:{port}"
    server = Server(name, cmd, f"{base}/api/status?token={token}", base, env, REPO, tmp_path / f"{name}.log")
    server.start()
    server.stop()
    return server.log_tail()


def test_the_readme_launcher_starts_as_this_user(tmp_path, jupyter_env):
    """As root (here, and in many containers) jupyter lab refuses to start without --allow-root."""
    import os

    name = "lab-as-root" if os.geteuid() == 0 else "lab-as-user"
    log = _start_lab([], tmp_path, jupyter_env, name)
    assert "Jupyter Server" in log and "is running at" in log, log


def test_the_readme_launcher_starts_as_a_normal_user(tmp_path, jupyter_env):
    import os

    if os.geteuid() != 0:
        pytest.skip("not root: test_the_readme_launcher_starts_as_this_user ran as a normal user")
    runuser = shutil.which("runuser") or pytest.skip("runuser is missing: cannot start as a normal user")
    for needed in (sys.executable, str(REPO / "cnnlib" / "lab.py")):
        if subprocess.run([runuser, "-u", "nobody", "--", "test", "-r", needed]).returncode:
            pytest.skip(f"user nobody cannot read {needed} on this machine")
    home = tmp_path / "nobody-home"
    home.mkdir()
    shutil.chown(home, "nobody")
    user_env = {k: v for k, v in jupyter_env.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    user_env.update(HOME=str(home), JUPYTER_PLATFORM_DIRS="1", IPYTHONDIR=str(home / "ipython"))
    log = _start_lab([runuser, "-u", "nobody", "--"], tmp_path, user_env, "lab-as-nobody")
    assert "is running at" in log, log
