"""JSON request bodies name each key once: a duplicate key, at any depth, is a 422 that names
it.

Python's json module, like most parsers, keeps the last of two equal keys without a word, so
`{"model": "nope", "model": "minilm"}` would run minilm while a proxy or a log that kept the
first read "nope". Routers that take a body use `route_class=StrictJSONRoute`: its requests
parse their body with an object hook that refuses a repeated key (a few microseconds on a
request body). FastAPI turns the JSONDecodeError raised into a 422 like any malformed body.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body = dict(pairs)
    if len(body) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return body


def loads_unique(data: bytes) -> Any:
    """`data` as JSON; json.JSONDecodeError if it is not JSON or an object repeats a key."""
    try:
        return json.loads(data, object_pairs_hook=_unique_keys)
    except _DuplicateKey as duplicate:
        document = data.decode("utf-8", errors="replace")
        raise json.JSONDecodeError(
            f"the key {json.dumps(duplicate.key)} appears twice in one object; send each key once",
            document,
            0,
        ) from None


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_unique(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose JSON body may not repeat a key."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handle(StrictJSONRequest(request.scope, request.receive))

        return strict
