"""`mindspace safety ...`: assess messages and run the labelled evaluation from a terminal."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer

from mindspace.safety import evaluation
from mindspace.safety.assessment import AssessmentContext, RiskLevel
from mindspace.safety.engine import assess as assess_text

app = typer.Typer(help="Risk assessment of free text, and its evaluation.", no_args_is_help=True)


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
) -> None:
    """Print one JSON object per message: level, signals and reason."""
    messages = [message] if message is not None else (line.rstrip("\n") for line in sys.stdin)
    previous: list[str] = []
    level = RiskLevel.normal
    for text in messages:
        if not text.strip():
            continue
        context = AssessmentContext(previous=tuple(previous), session_level=level)
        result = assess_text(text, context if conversation else None)
        if conversation:
            previous.append(text)
            level = result.level
        line = {"level": result.level, "signals": list(result.signals), "reason": result.reason}
        typer.echo(orjson.dumps(line).decode())


@app.command()
def evaluate(
    which: Annotated[str, typer.Option("--set", help="tuning, heldout or all")] = "all",
    misses: Annotated[bool, typer.Option(help="List every message assessed wrongly")] = False,
) -> None:
    """Precision and recall per level and the confusion matrix; exits 1 when a target is
    missed (high_risk recall, explicit intent or plan caught, false high_risk on normal)."""
    names = evaluation.SETS if which == "all" else (which,)
    if any(name not in evaluation.SETS for name in names):
        typer.echo(f"unknown set {which!r}; choose tuning, heldout or all", err=True)
        raise typer.Exit(2)
    targets = evaluation.Targets()
    failed: list[str] = []
    for name in names:
        report = evaluation.evaluate(name, evaluation.load(name), assess_text)
        typer.echo(report.render())
        if misses:
            for miss in report.misses:
                typer.echo(
                    f"  {miss.example.id} expected {miss.example.level} got {miss.got.level}:"
                    f" {miss.example.text}"
                )
        failed += [f"{name}: {failure}" for failure in report.failures(targets)]
        typer.echo("")
    if failed:
        typer.echo("targets missed:\n  " + "\n  ".join(failed), err=True)
        raise typer.Exit(1)
    typer.echo("all targets met")
