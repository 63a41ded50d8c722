"""`mindspace safety assess` and `mindspace safety evaluate`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from mindspace.cli import app
from mindspace.platform import embeddings
from mindspace.platform.config import get_settings
from mindspace.safety import training

runner = CliRunner()
needs_the_model = pytest.mark.skipif(
    not embeddings.extra_installed(), reason="needs the `ai` extra (part of `dev`)"
)
MISSED_BY_THE_RULES = "my heart can stop tonight, I've made sure of it"


@pytest.fixture
def embeddings_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MINDSPACE_EMBEDDINGS", "off")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


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


@needs_the_model
def test_assess_uses_the_learned_layer_unless_told_not_to() -> None:
    result = runner.invoke(app, ["safety", "assess", MISSED_BY_THE_RULES])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert (line["level"], line["signals"]) == ("high_risk", ["similar_phrasing"])
    alone = runner.invoke(app, ["safety", "assess", "--no-classifier", MISSED_BY_THE_RULES])
    assert json.loads(alone.output)["level"] == "normal"


@pytest.mark.usefixtures("embeddings_off")
def test_with_embeddings_off_the_rules_alone_assess() -> None:
    result = runner.invoke(app, ["safety", "assess", MISSED_BY_THE_RULES])
    assert result.exit_code == 0, result.output
    assert "learned layer off" in result.stderr
    assert json.loads(result.stdout)["level"] == "normal"


@needs_the_model
def test_evaluate_prints_the_rules_alone_and_with_the_layer_and_succeeds() -> None:
    result = runner.invoke(app, ["safety", "evaluate", "--set", "heldout"])
    assert result.exit_code == 0, result.output
    assert "precision" in result.output
    assert "confusion" in result.output
    assert "== heldout · rules: 133 messages" in result.output
    assert "== heldout · rules + classifier: 133 messages" in result.output
    assert "all targets met (heldout)" in result.output


@pytest.mark.usefixtures("embeddings_off")
def test_evaluate_with_embeddings_off_measures_the_rules_alone() -> None:
    result = runner.invoke(app, ["safety", "evaluate", "--set", "tuning"])
    assert result.exit_code == 0, result.output
    assert "tuning · rules" in result.stdout
    assert "classifier" not in result.stdout
    assert "all targets met (tuning)" in result.stdout


@pytest.mark.usefixtures("embeddings_off")
def test_the_fresh2_set_is_reported_and_never_fails_the_run() -> None:
    # The rules miss most of it; that is what it is for, and no target applies.
    result = runner.invoke(app, ["safety", "evaluate", "--set", "fresh2"])
    assert result.exit_code == 0, result.output
    assert "== fresh2 · rules: 183 messages" in result.stdout
    assert "targets missed" not in result.output


@pytest.mark.usefixtures("embeddings_off")
def test_train_needs_the_model() -> None:
    result = runner.invoke(app, ["safety", "train"])
    assert result.exit_code == 2
    assert "cannot train without the embedding model" in result.stderr


@needs_the_model
def test_train_check_finds_the_shipped_file_is_what_training_gives() -> None:
    """The whole `mindspace safety train` once (embeddings, cross-validation, thresholds,
    weights), compared with data/classifier.json; nothing is written."""
    before = training.shipped_text()
    result = runner.invoke(app, ["safety", "train", "--check"])
    assert result.exit_code == 0, result.output
    assert "the shipped weights are what training gives" in result.stdout
    assert training.shipped_text() == before


def test_evaluate_refuses_an_unknown_set() -> None:
    result = runner.invoke(app, ["safety", "evaluate", "--set", "nope"])
    assert result.exit_code == 2
