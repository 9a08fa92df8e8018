"""A hostile review of the VS Code extension: a workspace someone else
wrote (a cloned repository) must not choose the program the editor runs.
VS Code's Restricted Mode keeps a workspace's settings out when the
manifest names them (`restrictedConfigurations`); the client refuses a
server path inside a workspace that is not trusted
(editors/vscode/test/trust.test.js)."""

from __future__ import annotations

import re
import shutil
import subprocess

from .test_vscode_package import EXTENSION, MANIFEST


def test_restricted_mode_is_declared_and_keeps_out_every_setting_that_could_name_a_program() -> None:
    """A boolean cannot name a program; every other setting of ours is
    the user's only while the workspace is not trusted."""
    trust = MANIFEST["capabilities"]["untrustedWorkspaces"]
    assert trust["supported"] == "limited"
    assert trust["description"]
    settings = MANIFEST["contributes"]["configuration"]["properties"]
    could_name_a_program = {name for name, setting in settings.items() if setting["type"] != "boolean"}
    assert "rewardrules.server.command" in could_name_a_program
    assert could_name_a_program <= set(trust["restrictedConfigurations"])


def test_the_client_refuses_a_server_inside_a_workspace_not_trusted() -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed for the extension's tests (.ci/run installs nodejs)"
    result = subprocess.run(
        [node, "--test", str(EXTENSION / "test" / "trust.test.js")],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^# pass 3$", result.stdout, re.M) is not None, result.stdout


def test_the_client_tests_run_with_the_trust_tests() -> None:
    assert "test/trust.test.js" in MANIFEST["scripts"]["test"]
