"""Which engine writes replies, from settings. A model engine is always wrapped in
`FallbackEngine`, so a provider that fails still leaves the person with an answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mindspace.companion.engines import Engine, FallbackEngine
from mindspace.companion.engines.models import AnthropicEngine, OpenAICompatibleEngine
from mindspace.companion.engines.scripted import ScriptedEngine
from mindspace.platform.config import Settings

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"


@asynccontextmanager
async def open_engine(settings: Settings) -> AsyncIterator[Engine]:
    scripted = ScriptedEngine()
    if settings.companion_engine == "scripted" or not settings.companion_model:
        yield scripted
        return
    secret = settings.companion_model_api_key
    api_key = secret.get_secret_value() if secret else None
    model: OpenAICompatibleEngine | AnthropicEngine
    if settings.companion_engine == "openai":
        model = OpenAICompatibleEngine(
            base_url=settings.companion_model_base_url or OPENAI_BASE_URL,
            model=settings.companion_model,
            api_key=api_key,
            timeout_s=settings.companion_model_timeout_s,
        )
    else:
        model = AnthropicEngine(
            api_key=api_key or "",
            model=settings.companion_model,
            base_url=settings.companion_model_base_url or ANTHROPIC_BASE_URL,
            timeout_s=settings.companion_model_timeout_s,
        )
    try:
        yield FallbackEngine(model, scripted)
    finally:
        await model.aclose()
