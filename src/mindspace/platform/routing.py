"""One flat routing table for the whole app, built once at start-up.

Since FastAPI 0.137 `include_router` keeps the routers as a tree and walks it on every request:
each level matches the path against everything below it again, and re-checks the whole subtree
for added routes first. With the domains' routers three and four levels deep, routing alone cost
more than a bare FastAPI request (measured: a trivial route after identity's 50 cost 0.29 ms of
CPU, the same route flat 0.10 ms). Our routes never change once the app is built, so the
composition root copies the tree's routes, exactly as FastAPI resolved them (prefixes, tags,
dependencies, responses, response classes), into plain `APIRoute`s on one router. A route that
takes `Idempotent` becomes an `IdempotentRoute`, which keeps its answers for their keys.

The table is still tried in order, so a route far down it paid for every regex above it
(measured: 70 µs of routing for the journal's GET, the 86th route). Each flat route first
compares the path with the literal start of its template, which turns most of them away for
the price of a `startswith`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Match
from starlette.types import Scope

from mindspace.platform.idempotency import IdempotentRoute, declares_idempotency


class _LiteralPrefixCheck(APIRoute):
    """Refuses, before its regex, a path that does not contain the template's literal start
    (everything before the first parameter): a path the regex could never match, whatever
    root path is mounted in front of it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._literal_prefix = self.path_format.split("{", 1)[0]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self._literal_prefix not in scope["path"]:
            return Match.NONE, {}
        return super().matches(scope)


class FlatRoute(_LiteralPrefixCheck):
    pass


class FlatIdempotentRoute(_LiteralPrefixCheck, IdempotentRoute):
    pass


def include_flat(target: APIRouter, router: APIRouter) -> None:
    """Adds every route of `router`'s tree to `target` as a route of its own.

    Only FastAPI path operations are taken; anything else (a mount, a websocket route) is
    refused, so nothing is silently dropped. Router-level `form_limits` are not carried over
    (none of ours sets them): set them on the route instead."""
    for context in iter_route_contexts(router.routes):
        route, path, endpoint = context.original_route, context.path, context.endpoint
        if not isinstance(route, APIRoute) or path is None or endpoint is None:
            raise TypeError(f"only path operations can be flattened, not {route!r}")
        route_class: type[APIRoute] = type(route)
        if declares_idempotency(route.dependant, context.dependencies):
            if route_class is not APIRoute:
                raise TypeError(f"{route!r} takes Idempotent but has its own route class")
            route_class = FlatIdempotentRoute
        elif route_class is APIRoute:
            route_class = FlatRoute
        target.add_api_route(
            path,
            endpoint,
            response_model=context.response_model,
            status_code=context.status_code,
            tags=list(context.tags),
            dependencies=list(context.dependencies),
            summary=context.summary,
            description=context.description,
            response_description=context.response_description,
            responses=dict(context.responses),
            deprecated=context.deprecated,
            methods=set(context.methods or ()),
            operation_id=context.operation_id,
            response_model_include=context.response_model_include,
            response_model_exclude=context.response_model_exclude,
            response_model_by_alias=context.response_model_by_alias,
            response_model_exclude_unset=context.response_model_exclude_unset,
            response_model_exclude_defaults=context.response_model_exclude_defaults,
            response_model_exclude_none=context.response_model_exclude_none,
            include_in_schema=context.include_in_schema,
            response_class=context.response_class,
            name=context.name,
            route_class_override=route_class,
            callbacks=context.callbacks,
            openapi_extra=context.openapi_extra,
            generate_unique_id_function=context.generate_unique_id_function,
            strict_content_type=context.strict_content_type,
            max_body_size=context.max_body_size,
            form_limits=route.form_limits or None,
        )
