"""AWS Lambda entry point: the same app behind API Gateway (REST v1 or HTTP API v2 events),
through the Mangum ASGI adapter. Handler: `api.lambda_handler.handler`.

Settings come from the function's environment (`C360_*`). The serving copy is read from
`C360_API__SERVING_PATH` (on Lambda, under `/tmp`); when the file is missing, which is
every cold start, it is downloaded first from `C360_API__SERVING_URI` (`s3://bucket/key`,
where publishing uploads it). A warm container keeps the copy it downloaded until it is
recycled (or a new version is deployed).
"""

from __future__ import annotations

import os
from typing import Any

# One Polars thread: a lookup by a non-ASCII email runs staging's Polars rule on that one
# value, where its pool costs more than the work (as in `c360 serve`). Set before anything
# imports Polars.
os.environ.setdefault("POLARS_MAX_THREADS", "1")

from mangum import Mangum

from api.app import create_app
from api.serving_copy import download_serving_copy, serving_path
from c360.settings import Settings, load_settings

_adapter: Mangum | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway event; the first call (a cold start) sets the app up."""
    global _adapter
    if _adapter is None:
        _adapter = adapter(load_settings())
    return _adapter(event, context)


def adapter(settings: Settings) -> Mangum:
    """The app for `settings` wrapped for Lambda, with its serving copy fetched if missing."""
    ensure_local_copy(settings)
    return Mangum(create_app(settings), lifespan="off")


def ensure_local_copy(settings: Settings) -> None:
    """Download the serving copy from `serving_uri` unless it is already on local disk.

    Raises:
        ServingCopyError: the download failed.
    """
    path = serving_path(settings)
    if not path.exists() and settings.api.serving_uri:
        download_serving_copy(settings.api.serving_uri, path, settings.resolved_catalog().s3)
