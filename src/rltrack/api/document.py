"""The API's OpenAPI document (/openapi.json). FastAPI writes it; :func:`install` adjusts what
FastAPI cannot say itself:

* a query or path parameter is never null (an absent parameter is how a query says "none"),
  so the ``null`` alternative that an optional parameter's type adds is dropped;
* no path or query may hold a NUL character (:class:`rltrack.api.errors.RefuseNul`), so a
  free text parameter gets :data:`NO_NUL` (an enum, a format or a pattern of its own excludes
  NUL already);
* models that no route returns as JSON but that the document names (the trades of the JSON
  export, the data of the live updates' events) are added to its components.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from rltrack.api.schemas import NO_NUL, ExportTradePublic, RunEventPublic

REF = "#/components/schemas/{model}"
EXTRA_MODELS: tuple[type[BaseModel], ...] = (ExportTradePublic, RunEventPublic)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    kept = [o for o in options if o != {"type": "null"}]
    if len(kept) == len(options):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}


def _parameter_schema(schema: dict[str, Any], in_url: bool) -> dict[str, Any]:
    schema = _without_null(schema)
    if (
        in_url
        and schema.get("type") == "string"
        and not {"pattern", "enum", "format"} & set(schema)
    ):
        schema = {**schema, "pattern": NO_NUL}
    return schema


def adjust(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                where = parameter.get("in")
                if where in ("query", "path", "header") and "schema" in parameter:
                    parameter["schema"] = _parameter_schema(parameter["schema"], where != "header")
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in EXTRA_MODELS:
        schemas.setdefault(model.__name__, model.model_json_schema(ref_template=REF))
    return document


def install(app: FastAPI) -> None:
    """Serve the adjusted document at /openapi.json (built once, on first use)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = adjust(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
