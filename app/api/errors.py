"""Every failure leaves as JSON {"detail": ...} with a message a person can act on."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.client_costs import OverBudgetError
from app.api.inference import ServerBusyError
from app.api.schemas.errors import ErrorOut
from app.attention.errors import InputError
from app.zoo.registry import UnknownModelError

log = logging.getLogger(__name__)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown model"},
    413: {"model": ErrorOut, "description": "Request body too large"},
    415: {"model": ErrorOut, "description": "The body is not sent as application/json"},
    422: {"model": ErrorOut, "description": "Invalid request: the message says what to change"},
    429: {
        "model": ErrorOut,
        "description": "Too many requests, or too much model work queued, from this client "
        "address: the message states the limit; retry after the Retry-After seconds",
    },
    503: {"model": ErrorOut, "description": "Busy: retry after the Retry-After seconds"},
}


def _field_message(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "the request body is not valid JSON: " + str(error.get("ctx", {}).get("error", ""))
    where = list(error.get("loc", ()))
    if where[:1] in (["body"], ["query"]):  # which part of the request is plain from the route
        where = where[1:]
    location = ".".join(str(part) for part in where)
    message = str(error.get("msg", "is invalid"))
    return f"{location}: {message}" if location else message


def _validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, object]]:
    # The offending input is left out: it may be huge, and the caller already has it.
    return [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors
    ]


async def _on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    summary = "; ".join(_field_message(e) for e in errors[:5]) or "the request body is invalid"
    return JSONResponse(
        status_code=422,
        content=jsonable_encoder(
            {"detail": f"Invalid request: {summary}", "errors": _validation_errors(errors)}
        ),
    )


async def _on_input_error(_: Request, exc: InputError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": str(exc)})


async def _on_unknown_model(_: Request, exc: UnknownModelError) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": str(exc)})


async def _on_busy(_: Request, exc: ServerBusyError) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": str(exc)}, headers={"Retry-After": "5"})


async def _on_over_budget(_: Request, exc: OverBudgetError) -> JSONResponse:
    return JSONResponse(
        status_code=429,
        content={"detail": str(exc)},
        headers={"Retry-After": str(exc.retry_after_s)},
    )


# FastAPI's words when the body is not parseable at all (e.g. nested past Python's limit).
_UNPARSEABLE = "There was an error parsing the body"


async def _on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = str(exc.detail)
    status = exc.status_code
    if status == 400 and detail == _UNPARSEABLE:
        # The same answer as for any other malformed JSON body: 422, saying what to send.
        status = 422
        detail = (
            "the request body could not be parsed: send one UTF-8 JSON object, nested no "
            "deeper than the fields in /openapi.json need"
        )
    return JSONResponse(
        status_code=status,
        content={"detail": detail},
        headers=getattr(exc, "headers", None),
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        status_code=500,
        content={"detail": "The server failed on this request; it has been logged."},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(InputError, _on_input_error)  # type: ignore[arg-type]
    app.add_exception_handler(UnknownModelError, _on_unknown_model)  # type: ignore[arg-type]
    app.add_exception_handler(ServerBusyError, _on_busy)  # type: ignore[arg-type]
    app.add_exception_handler(OverBudgetError, _on_over_budget)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)
