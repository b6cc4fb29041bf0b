"""Docs tests: every command and option a user can type is documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from topshare.cli import app

ROOT = Path(__file__).resolve().parent.parent
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
GROUP: Any = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)


def test_commands_exist() -> None:
    assert COMMANDS == ["check", "demo", "revenue", "serve", "traffic"]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_is_documented(name: str) -> None:
    command = GROUP.commands[name]
    assert f"## `topshare {name}" in CLI_DOC
    options = [p for p in command.params if p.param_type_name == "option"]
    assert options
    for param in options:
        for opt in [*param.opts, *param.secondary_opts]:
            if opt in ("-h", "--help"):
                continue
            assert f"`{opt}" in CLI_DOC, f"topshare {name} {opt} is not in docs/cli.md"


def test_readme_two_commands_match_dev_script() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 dev.py demo" in readme
    assert "python3 dev.py test" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 dev.py test" in ci
