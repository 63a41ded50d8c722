"""Which engine the settings choose: scripted unless a model is configured, and a model always
behind the scripted fallback."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from mindspace.companion.engine_config import open_engine
from mindspace.companion.engines import FallbackEngine
from mindspace.companion.engines.models import AnthropicEngine, OpenAICompatibleEngine
from mindspace.companion.engines.scripted import ScriptedEngine
from mindspace.platform.config import Settings

pytestmark = pytest.mark.asyncio


async def test_scripted_by_default_and_when_no_model_is_named(settings: Settings) -> None:
    for changes in ({}, {"companion_engine": "openai", "companion_model": None}):
        async with open_engine(settings.model_copy(update=changes)) as engine:
            assert isinstance(engine, ScriptedEngine)


@pytest.mark.parametrize(
    ("kind", "adapter"), [("openai", OpenAICompatibleEngine), ("anthropic", AnthropicEngine)]
)
async def test_a_configured_model_is_wrapped_in_the_fallback(
    settings: Settings, kind: str, adapter: type
) -> None:
    changes = {
        "companion_engine": kind,
        "companion_model": "some-model",
        "companion_model_api_key": SecretStr("k"),
    }
    async with open_engine(settings.model_copy(update=changes)) as engine:
        assert isinstance(engine, FallbackEngine)
        primary = engine.primary
        assert isinstance(primary, adapter)
        assert isinstance(primary, OpenAICompatibleEngine | AnthropicEngine)
        assert isinstance(engine.fallback, ScriptedEngine)
        assert primary.model == "some-model"
