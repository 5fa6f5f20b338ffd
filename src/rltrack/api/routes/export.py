"""``/api/training-runs/{run_id}/export``: a run's episodes or trades as CSV, JSON or Parquet,
streamed (:mod:`rltrack.exporters` writes them; ``rltrack export`` gives the same bytes)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from rltrack.api.deps import RunId, StoreDep
from rltrack.api.responses import NO_RUN, errors
from rltrack.exporters import MEDIA_TYPES, METRIC_PREFIX, export

REF = "#/components/schemas/"
# What each format's body is: the JSON export is an array of episodes or of trades.
CONTENT = {
    MEDIA_TYPES["csv"].split(";")[0]: {"schema": {"type": "string"}},
    MEDIA_TYPES["json"]: {
        "schema": {
            "type": "array",
            "items": {
                "anyOf": [{"$ref": REF + "EpisodePublic"}, {"$ref": REF + "ExportTradePublic"}]
            },
        }
    },
    MEDIA_TYPES["parquet"]: {},
}
DISPOSITION = {
    "Content-Disposition": {
        "description": '`attachment; filename="<run id>-<table>.<format>"`.',
        "required": True,
        "schema": {"type": "string", "pattern": "^attachment; "},
    }
}

router = APIRouter(prefix="/api/training-runs", tags=["training-runs"])


@router.get(
    "/{run_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The episodes or trades as a file download, in the `format` asked "
            "for: CSV, JSON or Parquet.",
            "content": CONTENT,
            "headers": DISPOSITION,
        },
        **errors({404: NO_RUN}),
    },
    description="Every episode of the run, by index (`table=episodes`), or every trade, by "
    "episode index and then in the order made (`table=trades`), as a download. CSV and Parquet "
    f"flatten the episode metrics into `{METRIC_PREFIX}<name>` columns; JSON is an array of "
    "episodes as in the episodes page. Non-finite numbers are empty (CSV) or null.",
)
def export_run(
    store: StoreDep,
    run_id: RunId,
    format: Annotated[Literal["csv", "json", "parquet"], Query()] = "csv",
    table: Annotated[Literal["episodes", "trades"], Query()] = "episodes",
) -> StreamingResponse:
    run = store.get_run(run_id)
    # Reads the first batch before the response starts: a database error is still a proper 503.
    body = export(store, run.id, table, format)
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", run.id) + f"-{table}.{format}"
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
