"""Open the lakehouse's Iceberg catalog from settings: SQL (SQLite/PostgreSQL), REST or Glue.

Switching backend is configuration: the profile (or `C360_CATALOG__*`) picks the pyiceberg
catalog type and its properties; callers only ever see a pyiceberg `Catalog`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pyiceberg.catalog import Catalog, load_catalog
from sqlalchemy.exc import OperationalError

from c360.settings import CATALOG_NAME, CatalogSettings, Settings

# Concurrent writers (stream consumer, batch ingest) contend on one catalog row per table.
COMMIT_RETRIES = "10"


class CatalogUnavailableError(RuntimeError):
    """The configured catalog cannot be reached; the message says which and what to do."""


def catalog_properties(catalog: CatalogSettings) -> dict[str, str]:
    """The pyiceberg properties for these settings: what an outside reader passes to
    `pyiceberg.catalog.load_catalog("c360", **properties)`."""
    props: dict[str, str] = {"type": catalog.type}
    if catalog.uri:
        props["uri"] = catalog.uri
    if catalog.warehouse:
        props["warehouse"] = catalog.warehouse
    s3 = {
        "s3.endpoint": catalog.s3.endpoint,
        "s3.access-key-id": catalog.s3.access_key_id,
        "s3.secret-access-key": catalog.s3.secret_access_key,
        "s3.region": catalog.s3.region,
    }
    props.update({k: v for k, v in s3.items() if v})
    if catalog.type == "glue" and catalog.s3.region:
        props["glue.region"] = catalog.s3.region
    return props


def open_catalog(settings: Settings) -> Catalog:
    """Open (creating on first use, for the embedded SQLite catalog) the lakehouse catalog.

    Raises:
        CatalogUnavailableError: the catalog's server or database cannot be reached.
    """
    catalog = settings.resolved_catalog()
    _prepare_local_paths(catalog)
    try:
        return load_catalog(CATALOG_NAME, **catalog_properties(catalog))
    except OperationalError as exc:
        # Driver messages span lines (psycopg2 adds a hint line); the error must stay one line.
        reason = " ".join(str(exc.orig).split())
        raise CatalogUnavailableError(
            f"cannot reach the {catalog.type} catalog at {_redact(catalog.uri)} ({reason}). "
            "Start it, or pick another profile with --profile/C360_PROFILE."
        ) from exc


def _prepare_local_paths(catalog: CatalogSettings) -> None:
    if catalog.uri and catalog.uri.startswith("sqlite:///"):
        Path(catalog.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if catalog.warehouse and catalog.warehouse.startswith("file://"):
        Path(urlparse(catalog.warehouse).path).mkdir(parents=True, exist_ok=True)


def _redact(uri: str | None) -> str:
    parsed = urlparse(uri or "")
    if parsed.password:
        return (uri or "").replace(f":{parsed.password}@", ":***@")
    return uri or "(no uri)"
