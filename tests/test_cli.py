"""The `mindspace` command: every command is listed and documents itself."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mindspace.cli import app

COMMANDS = ("serve", "api", "worker", "migrate", "seed", "create-admin")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_the_top_level_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in COMMANDS:
        assert command in result.output


def test_no_arguments_shows_the_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    assert "Usage" in result.output
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_documents_itself(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert command in result.output


def test_an_unknown_command_fails(runner: CliRunner) -> None:
    result = runner.invoke(app, ["frobnicate"])
    assert result.exit_code != 0
