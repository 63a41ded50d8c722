"""`mindspace safety assess` and `mindspace safety evaluate`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mindspace.cli import app

runner = CliRunner()


def test_assess_one_message_from_the_argument() -> None:
    result = runner.invoke(app, ["safety", "assess", "I want to kill myself"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert line["level"] == "high_risk"
    assert line["signals"] == ["explicit_intent"]


def test_assess_one_message_per_stdin_line() -> None:
    stdin = "this traffic is killing me\nmy friend wants to die\n\nquiero morir\n"
    result = runner.invoke(app, ["safety", "assess"], input=stdin)
    assert result.exit_code == 0, result.output
    levels = [json.loads(line)["level"] for line in result.output.splitlines()]
    assert levels == ["normal", "elevated_concern", "high_risk"]


def test_assess_a_conversation_carries_context() -> None:
    stdin = "I lost my job and I feel hopeless\nhow tall is the golden gate bridge\nok thanks\n"
    alone = runner.invoke(app, ["safety", "assess"], input=stdin)
    together = runner.invoke(app, ["safety", "assess", "--conversation"], input=stdin)
    assert [json.loads(x)["level"] for x in alone.output.splitlines()][1:] == ["normal"] * 2
    assert [json.loads(x)["level"] for x in together.output.splitlines()][1:] == ["high_risk"] * 2


def test_evaluate_prints_the_figures_and_succeeds() -> None:
    result = runner.invoke(app, ["safety", "evaluate", "--set", "tuning"])
    assert result.exit_code == 0, result.output
    assert "precision" in result.output
    assert "confusion" in result.output
    assert "all targets met" in result.output


def test_evaluate_refuses_an_unknown_set() -> None:
    result = runner.invoke(app, ["safety", "evaluate", "--set", "nope"])
    assert result.exit_code == 2
