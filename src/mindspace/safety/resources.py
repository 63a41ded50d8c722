"""Crisis lines by country, from data/resources.toml."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources as package_files
from typing import Any

from mindspace.safety.schemas import CrisisResource, CrisisResources


@cache
def _data() -> dict[str, Any]:
    path = package_files.files("mindspace.safety").joinpath("data", "resources.toml")
    return tomllib.loads(path.read_text("utf-8"))


def _entry(country: str | None, data: dict[str, Any], *, fallback: bool) -> CrisisResources:
    return CrisisResources(
        country=country,
        country_name=data["name"],
        emergency=data["emergency"],
        resources=[CrisisResource.model_validate(r) for r in data["resources"]],
        fallback=fallback,
    )


def countries() -> list[str]:
    return sorted(_data()["countries"])


def crisis_resources(country: str | None) -> CrisisResources:
    """The lines for a country (ISO alpha-2, any case); the international directory when we
    hold none for it or no country is known. Never empty: someone in crisis always gets a way
    to reach a person."""
    return _for_code(country.upper() if country else None)


@cache
def _for_code(code: str | None) -> CrisisResources:
    known = _data()["countries"].get(code) if code else None
    if known is None:
        return _entry(None, _data()["international"], fallback=True)
    entry = _entry(code, known, fallback=False)
    directory = _data()["international"]["resources"]
    return entry.model_copy(
        update={"resources": [*entry.resources, *map(CrisisResource.model_validate, directory)]}
    )
