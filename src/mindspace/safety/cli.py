"""`mindspace safety ...`: assess messages, run the labelled evaluation and calibrate the
similarity layer from a terminal.

The similarity layer is used whenever settings allow it and the `ai` extra is installed; the
model loads first (a few seconds). `--no-similarity` assesses with the rules alone.
"""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer

from mindspace.platform import embeddings
from mindspace.platform.config import get_settings
from mindspace.safety import evaluation
from mindspace.safety.assessment import Assessment, AssessmentContext, RiskLevel
from mindspace.safety.engine import assess as assess_text
from mindspace.safety.service import similarity_layer
from mindspace.safety.similarity import Similarity

app = typer.Typer(help="Risk assessment of free text, and its evaluation.", no_args_is_help=True)
_CEILINGS = evaluation.Ceilings()

Layer = Annotated[
    bool,
    typer.Option(
        "--similarity/--no-similarity",
        help="Add the similarity layer when available (MINDSPACE_EMBEDDINGS, the `ai` extra)",
    ),
]


def _layer(wanted: bool) -> Similarity | None:
    if not wanted:
        return None
    encoder = embeddings.encoder_for(get_settings())
    if encoder is None:
        typer.echo(
            "similarity layer off (MINDSPACE_EMBEDDINGS=off or the `ai` extra is missing): "
            "the rules alone assess",
            err=True,
        )
        return None
    return similarity_layer(encoder)


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
    similarity: Layer = True,
) -> None:
    """Print one JSON object per message: level, signals and reason."""
    layer = _layer(similarity)
    messages = [message] if message is not None else (line.rstrip("\n") for line in sys.stdin)
    previous: list[str] = []
    level = RiskLevel.normal
    for text in messages:
        if not text.strip():
            continue
        context = AssessmentContext(previous=tuple(previous), session_level=level)
        result = assess_text(text, context if conversation else None, similarity=layer)
        if conversation:
            previous.append(text)
            level = result.level
        line = {"level": result.level, "signals": list(result.signals), "reason": result.reason}
        typer.echo(orjson.dumps(line).decode())


@app.command()
def evaluate(
    which: Annotated[str, typer.Option("--set", help="tuning, heldout, fresh2 or all")] = "all",
    misses: Annotated[bool, typer.Option(help="List every message assessed wrongly")] = False,
    similarity: Layer = True,
) -> None:
    """Precision and recall per level and the confusion matrix, for the rules alone and with
    the similarity layer; exits 1 when a target is missed on the tuning or held-out set (high
    risk recall, explicit intent or plan caught, false high risk on normal). The fresh2 set is
    reported, never held to the targets."""
    names = evaluation.SETS if which == "all" else (which,)
    if any(name not in evaluation.SETS for name in names):
        typer.echo(f"unknown set {which!r}; choose {', '.join(evaluation.SETS)} or all", err=True)
        raise typer.Exit(2)
    layer = _layer(similarity)
    assessors: list[tuple[str, evaluation.Assessor]] = [("rules", assess_text)]
    if layer is not None:

        def with_layer(text: str, context: AssessmentContext) -> Assessment:
            return assess_text(text, context, similarity=layer)

        assessors.append(("rules + similarity", with_layer))
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
def calibrate(
    max_false_high: Annotated[
        float, typer.Option(help="Ceiling on normal → high risk")
    ] = _CEILINGS.false_high_on_normal,
    max_flagged_normal: Annotated[
        float, typer.Option(help="Ceiling on normal → any concern")
    ] = _CEILINGS.flagged_normal,
    max_raised_elevated: Annotated[
        float, typer.Option(help="Ceiling on elevated → high")
    ] = _CEILINGS.raised_elevated,
) -> None:
    """The similarity layer's best thresholds on the tuning set (never another set): copy the
    chosen line into data/exemplars.toml."""
    layer = _layer(True)
    if layer is None:
        raise typer.Exit(2)
    ceilings = evaluation.Ceilings(max_false_high, max_flagged_normal, max_raised_elevated)
    found = evaluation.calibrate(layer, evaluation.load("tuning"), ceilings)
    if not found:
        typer.echo("no thresholds keep the combined costs under the ceilings", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"{'high':>6}{'elev':>6}{'margin':>8}{'alone: high':>13}{'concern':>9}{'elevated':>10}"
        f"{'both: false high':>18}{'flagged':>9}{'raised':>8}"
    )
    for c in found:
        t = c.thresholds
        typer.echo(
            f"{t.high_risk:>6.2f}{t.elevated_concern:>6.2f}{t.margin:>8.2f}{c.alone_high:>13.3f}"
            f"{c.alone_concern:>9.3f}{c.alone_elevated:>10.3f}{c.false_high_on_normal:>18.3f}"
            f"{c.flagged_normal:>9.3f}{c.raised_elevated:>8.3f}"
        )
    current = layer.thresholds
    typer.echo(
        f"in use: high {current.high_risk} elevated {current.elevated_concern}"
        f" margin {current.margin}"
    )
