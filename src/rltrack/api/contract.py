"""Requests under ``/api`` are held to the OpenAPI document: its paths, their methods and their
query parameters are all there is.

* A path the document does not have answers 404, whatever the method.
* ``OPTIONS`` answers 204 with ``Allow`` naming every method of the path; another method the
  path lacks answers 405 with the same ``Allow``. (Starlette alone would name only the methods
  of the path's first route: ``GET`` for ``/api/training-runs/{run_id}``, which PATCH and
  DELETE also serve.)
* A query parameter the operation does not declare answers 422, so that a misspelt filter is
  not silently ignored. An object parameter in the form style (the runs list's ``param.<name>``
  filters) declares the names its ``propertyNames`` allows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

# The order in which Allow names the methods (FastAPI serves no HEAD beside GET).
ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_PARAM = re.compile(r"\{[^}/]+\}")


@dataclass
class Query:
    """The query parameters of one operation."""

    names: set[str] = field(default_factory=set)
    patterns: list[tuple[re.Pattern[str], int | None]] = field(default_factory=list)

    def unknown(self, name: str) -> bool:
        if name in self.names:
            return False
        return not any(
            p.search(name) and (most is None or len(name) <= most) for p, most in self.patterns
        )


@dataclass
class PathEntry:
    pattern: re.Pattern[str]
    queries: dict[str, Query]  # by method


def _query(operation: dict[str, Any]) -> Query:
    query = Query()
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query":
            continue
        schema = parameter.get("schema", {})
        if schema.get("type") == "object" and parameter.get("explode", True):
            names = schema.get("propertyNames", {})
            query.patterns.append((re.compile(names.get("pattern", "")), names.get("maxLength")))
        else:
            query.names.add(parameter["name"])
    return query


def path_table(document: dict[str, Any]) -> list[PathEntry]:
    """Each path of the document as a pattern of URL paths, with its operations' queries."""
    table = []
    for template, operations in document.get("paths", {}).items():
        pattern = "[^/]+".join(re.escape(p) for p in _PARAM.split(template))
        queries = {method.upper(): _query(op) for method, op in operations.items()}
        table.append(PathEntry(re.compile(pattern), queries))
    return table


def _allow(methods: set[str]) -> str:
    return ", ".join(m for m in ORDER if m in methods | {"OPTIONS"})


class DocumentContract:
    def __init__(self, app: ASGIApp, document: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.document = document
        self.table: list[PathEntry] | None = None

    def _refusal(self, scope: Scope) -> Response | None:
        path: str = scope["path"]
        if self.table is None:
            self.table = path_table(self.document())
        queries: dict[str, Query] = {}
        for entry in self.table:
            if entry.pattern.fullmatch(path):
                # The first path of a method serves it, as the router matches (/api/groups/compare
                # before /api/groups/{group_id}): its query parameters are the ones that hold.
                queries = entry.queries | queries
        method = scope["method"]
        if not queries:
            return JSONResponse({"detail": f"no API route {path}"}, status_code=404)
        if method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": _allow(set(queries))})
        if method not in queries:
            allow = _allow(set(queries))
            return JSONResponse(
                {"detail": f"{method} is not a method of {path}; it allows {allow}"},
                status_code=405,
                headers={"Allow": allow},
            )
        raw = scope.get("query_string", b"").decode("latin-1")
        query = queries[method]
        for name, _ in parse_qsl(raw, keep_blank_values=True):
            if query.unknown(name):
                known = ", ".join(sorted(query.names)) or "none"
                return JSONResponse(
                    {"detail": f"unknown query parameter {name!r}; this route takes {known}"},
                    status_code=422,
                )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and (path == "/api" or path.startswith("/api/")):
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
