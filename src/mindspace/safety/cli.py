"""`mindspace safety ...`: assess messages, run the labelled evaluation and train the learned
layer from a terminal.

The learned layer is used whenever settings allow it and the `ai` extra is installed; the
embedding model loads first (a few seconds). `--no-classifier` assesses with the rules alone.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from mindspace.platform import embeddings
from mindspace.platform.config import get_settings
from mindspace.safety import evaluation
from mindspace.safety.assessment import Assessment, AssessmentContext, RiskLevel
from mindspace.safety.classifier import Classifier
from mindspace.safety.engine import assess as assess_text
from mindspace.safety.engine import readable
from mindspace.safety.service import classifier_layer

app = typer.Typer(help="Risk assessment of free text, and its evaluation.", no_args_is_help=True)

Layer = Annotated[
    bool,
    typer.Option(
        "--classifier/--no-classifier",
        help="Add the learned layer when available (MINDSPACE_EMBEDDINGS, the `ai` extra)",
    ),
]
_OFF = "(MINDSPACE_EMBEDDINGS=off or the `ai` extra is missing)"


def _layer(wanted: bool) -> Classifier | None:
    if not wanted:
        return None
    encoder = embeddings.encoder_for(get_settings())
    if encoder is None:
        typer.echo(f"learned layer off {_OFF}: the rules alone assess", err=True)
        return None
    return classifier_layer(encoder)


@app.command()
def assess(
    message: Annotated[
        str | None, typer.Argument(help="The message; without it, one message per stdin line")
    ] = None,
    conversation: Annotated[
        bool,
        typer.Option(
            help="Read stdin lines as one person's conversation, each in the light of "
            "the ones before"
        ),
    ] = False,
    classifier: Layer = True,
) -> None:
    """Print one JSON object per message: level, signals and reason."""
    layer = _layer(classifier)
    messages = [message] if message is not None else (line.rstrip("\n") for line in sys.stdin)
    previous: list[str] = []
    level = RiskLevel.normal
    for text in messages:
        if not text.strip():
            continue
        context = AssessmentContext(previous=tuple(previous), session_level=level)
        result = assess_text(text, context if conversation else None, classifier=layer)
        if conversation:
            previous.append(text)
            level = result.level
        line = {"level": result.level, "signals": list(result.signals), "reason": result.reason}
        typer.echo(orjson.dumps(line).decode())


@app.command()
def evaluate(
    which: Annotated[str, typer.Option("--set", help="tuning, heldout, fresh2 or all")] = "all",
    misses: Annotated[bool, typer.Option(help="List every message assessed wrongly")] = False,
    classifier: Layer = True,
) -> None:
    """Precision and recall per level and the confusion matrix, for the rules alone and with
    the learned layer; exits 1 when a target is missed on the tuning or held-out set (high
    risk recall, explicit intent or plan caught, false high risk on normal). The fresh2 set is
    reported, never held to the targets."""
    names = evaluation.SETS if which == "all" else (which,)
    if any(name not in evaluation.SETS for name in names):
        typer.echo(f"unknown set {which!r}; choose {', '.join(evaluation.SETS)} or all", err=True)
        raise typer.Exit(2)
    layer = _layer(classifier)
    assessors: list[tuple[str, evaluation.Assessor]] = [("rules", assess_text)]
    if layer is not None:

        def with_layer(text: str, context: AssessmentContext) -> Assessment:
            return assess_text(text, context, classifier=layer)

        assessors.append(("rules + classifier", with_layer))
    targets = evaluation.Targets()
    failed: list[str] = []
    reports: list[evaluation.Report] = []
    for name in names:
        examples = evaluation.load(name)
        for label, assessor in assessors:
            report = evaluation.evaluate(f"{name} · {label}", examples, assessor)
            reports.append(report)
            typer.echo(report.render())
            if misses:
                for miss in report.misses:
                    typer.echo(
                        f"  {miss.example.id} expected {miss.example.level}"
                        f" got {miss.got.level}: {miss.example.text}"
                    )
            if name in evaluation.TARGETED:
                failed += [f"{report.name}: {failure}" for failure in report.failures(targets)]
            typer.echo("")
    typer.echo(evaluation.summary(reports))
    typer.echo("")
    if failed:
        typer.echo("targets missed:\n  " + "\n  ".join(failed), err=True)
        raise typer.Exit(1)
    typer.echo("all targets met (" + ", ".join(n for n in names if n in evaluation.TARGETED) + ")")


@app.command()
def train(
    output: Annotated[
        Path | None,
        typer.Option(help="Write the weights here instead of the package's data/classifier.json"),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            help="Write nothing; exit 1 unless training now gives the shipped file's model"
        ),
    ] = False,
) -> None:
    """Train the learned layer on the training side (the tuning set and the curated examples)
    and write its weights and cross-validated thresholds. The same inputs give the same file.
    Needs the `ai` extra (scikit-learn)."""
    encoder = embeddings.encoder_for(get_settings())
    if encoder is None:
        typer.echo(f"cannot train without the embedding model {_OFF}", err=True)
        raise typer.Exit(2)
    from mindspace.safety import training  # scikit-learn, at train time only

    trained = training.train(encoder, readable)
    text = training.render(trained)
    if check:
        shipped = training.shipped_text()
        differences = training.differences(shipped, text)
        if differences:
            typer.echo("the shipped weights are not what training gives now:", err=True)
            for line in differences:
                typer.echo(f"  {line}", err=True)
            raise typer.Exit(1)
        typer.echo("the shipped weights are what training gives")
        return
    target = output or training.shipped_path()
    target.write_text(text, encoding="utf-8")
    t = trained.model.thresholds
    c = trained.costs
    typer.echo(
        f"wrote {target}: {trained.rows} rows ({trained.tuning_rows} tuning messages), "
        f"C={trained.strength}, thresholds high {t.high_risk} concern {t.elevated_concern}"
    )
    typer.echo(
        f"cross-validated on the tuning messages, the layer alone: high risk at high "
        f"{c.high_at_high:.3f}, flagged {c.high_flagged:.3f}; elevated flagged "
        f"{c.elevated_flagged:.3f}; normal raised to high {c.false_high_on_normal:.3f}, "
        f"flagged {c.flagged_normal:.3f}"
    )
