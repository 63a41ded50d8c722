"""The gate other domains call: the rules alone until the process has loaded the learned
layer at start-up, the rules and the layer after; the rules alone throughout when embeddings
are off."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgi_lifespan import LifespanManager

from mindspace.app import create_app
from mindspace.platform import embeddings
from mindspace.platform.config import Settings
from mindspace.safety import service
from mindspace.safety.assessment import RiskLevel, Signal

pytestmark = pytest.mark.asyncio
needs_the_model = pytest.mark.skipif(
    not embeddings.extra_installed(), reason="needs the `ai` extra (part of `dev`)"
)
# No rule knows it (tests/safety/test_classifier.py); the learned layer reads it as high risk.
MISSED_BY_THE_RULES = "my heart can stop tonight, I've made sure of it"


async def test_with_embeddings_off_the_rules_alone_assess(settings: Settings) -> None:
    assert settings.embeddings == "off"
    async with service.classifier_while_running(settings) as loading:
        await loading
        assert service.active_classifier() is None
        result = await service.assess_off_loop(MISSED_BY_THE_RULES)
        assert result.level is RiskLevel.normal
        assert (await service.assess_off_loop("I want to kill myself")).level is RiskLevel.high_risk


@needs_the_model
async def test_once_loaded_the_gate_adds_the_layer(settings: Settings) -> None:
    auto = settings.model_copy(update={"embeddings": "auto"})
    async with service.classifier_while_running(auto) as loading:
        # Nothing waits for the model: until it is in, the rules alone answer.
        assert service.active_classifier() is None
        assert (await service.assess_off_loop(MISSED_BY_THE_RULES)).level is RiskLevel.normal
        await loading
        assert service.active_classifier() is service.classifier_layer(embeddings.shared_encoder())
        result = await service.assess_off_loop(MISSED_BY_THE_RULES)
        assert result.level is RiskLevel.high_risk
        assert Signal.similar_phrasing in result.signals
    # The app is gone: the process is back to what it had before.
    assert service.active_classifier() is None


@needs_the_model
async def test_the_gate_encodes_in_a_thread_and_keeps_the_loop_free(settings: Settings) -> None:
    auto = settings.model_copy(update={"embeddings": "auto"})
    async with service.classifier_while_running(auto) as loading:
        await loading
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticking = asyncio.create_task(tick())
        texts = [f"message number {i} about my sleeping tablets" for i in range(8)]
        results = await asyncio.gather(*(service.assess_off_loop(t) for t in texts))
        ticking.cancel()
        layer = service.active_classifier()
        assert [r.level for r in results] == [
            service.assess(t, classifier=layer).level for t in texts
        ]
        # The loop ran other work while the model encoded, far more than once per message.
        assert ticks > 50


@needs_the_model
async def test_an_app_loads_the_layer_in_the_background_and_is_ready_once_it_is_in(
    settings: Settings,
) -> None:
    application = create_app(settings.model_copy(update={"embeddings": "auto"}))
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for _ in range(600):
                response = await client.get("/health/ready")
                if response.status_code == 200:
                    break
                assert response.status_code == 503
                assert "warming up" in response.json()["detail"]
                await asyncio.sleep(0.1)
            assert response.status_code == 200, response.text
        assert service.active_classifier() is not None
    assert service.active_classifier() is None
