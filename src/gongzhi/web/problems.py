"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException

from gongzhi.errors import DomainError
from gongzhi.kit.filestore import FileRejected
from gongzhi.web.i18n import N_

log = logging.getLogger(__name__)
MEDIA = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA)


def import_rejected(record: dict[str, Any]) -> JSONResponse:
    """An import refused whole (422): its record (:class:`gongzhi.kit.sheets.ImportProblem` rows under
    ``errors``) as the problem's extension members. The record's own ``status`` (``rejected``) is given as
    ``import_status``: a problem's ``status`` is its HTTP status code (RFC 9457 §3.1.2)."""
    extra = {k: v for k, v in record.items() if k != "status"}
    detail = f"{len(record.get('errors') or ())} problem(s) found; nothing was imported"
    return problem(
        422, "import-rejected", "Import rejected", detail, import_status=record.get("status"), **extra
    )


def _unstorable_text(exc: BaseException) -> bool:
    """Whether the database refused text a request carried: PostgreSQL stores no NUL character (U+0000) in
    text or JSON (SQLSTATE 22P05, or psycopg's own refusal of a text parameter). A JSON body with one is
    refused before (``core.deps``); this answers the forms and query strings that carry one."""
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) == "22P05" or "NUL (0x00)" in str(orig)


def _text_refused() -> JSONResponse:
    return problem(
        422,
        "text-unstorable",
        "Text cannot be stored",
        N_("the text holds a NUL character (U+0000), which cannot be stored"),
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        response = problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
        if "retry_after" in exc.extra:
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return problem(
            422,
            "validation",
            "Invalid request payload",
            N_("the request does not match the schema"),
            errors=errors,
        )

    @app.exception_handler(FileRejected)
    async def _file(_: Request, exc: FileRejected) -> JSONResponse:
        return problem(400, "file-rejected", "File rejected", str(exc), reason=exc.reason)

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return problem(
            409,
            "stale-write",
            "The resource changed since you read it",
            N_("another request changed this record at the same moment; reload and retry"),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return problem(409, "conflict", "Conflict", N_("the change conflicts with existing data"))

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        if not _unstorable_text(exc):
            raise exc
        return _text_refused()

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, f"http-{exc.status_code}", str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(
            500, "internal", "Internal error", N_("something went wrong on our side; it has been logged")
        )
