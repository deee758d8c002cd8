"""Open the lakehouse's Iceberg catalog from settings: SQL (SQLite/PostgreSQL), REST or Glue.

Switching backend is configuration: the profile (or `C360_CATALOG__*`) picks the pyiceberg
catalog type and its properties; callers only ever see a pyiceberg `Catalog`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pyiceberg.catalog import Catalog, load_catalog
from sqlalchemy.exc import OperationalError

from c360.settings import CATALOG_NAME, CatalogSettings, S3Settings, Settings

# Concurrent writers (stream consumer, batch ingest) contend on one catalog row per table.
COMMIT_RETRIES = "10"
# pyiceberg's SQL catalog creates its own tables on open; concurrent first opens race.
OPEN_ATTEMPTS = 8


class CatalogUnavailableError(RuntimeError):
    """The configured catalog cannot be reached; the message says which and what to do."""


def catalog_properties(catalog: CatalogSettings) -> dict[str, str]:
    """The pyiceberg properties for these settings: what an outside reader passes to
    `pyiceberg.catalog.load_catalog("c360", **properties)`."""
    props: dict[str, str] = {"type": catalog.type}
    if catalog.uri:
        # pyiceberg's Glue catalog ignores `uri`: its endpoint is `glue.endpoint`.
        props["glue.endpoint" if catalog.type == "glue" else "uri"] = catalog.uri
    if catalog.warehouse:
        props["warehouse"] = catalog.warehouse
    if catalog.s3.endpoint:
        props["s3.endpoint"] = catalog.s3.endpoint
    props.update(_aws_properties("s3", catalog.s3))
    if catalog.type == "glue":
        props.update(_aws_properties("glue", catalog.s3))
    if catalog.type == "rest" and catalog.sigv4_service:
        props["rest.sigv4-enabled"] = "true"
        props["rest.signing-name"] = catalog.sigv4_service
        # pyiceberg's SigV4 signer reads only the `client.*` credentials and region.
        props.update(_aws_properties("client", catalog.s3))
    return props


def _aws_properties(prefix: str, s3: S3Settings) -> dict[str, str]:
    """Credentials and region under one of pyiceberg's prefixes (`s3`, `glue`, `client`)."""
    values = {
        "access-key-id": s3.access_key_id,
        "secret-access-key": s3.secret_access_key,
        "region": s3.region,
    }
    return {f"{prefix}.{key}": value for key, value in values.items() if value}


def open_catalog(settings: Settings) -> Catalog:
    """Open (creating on first use, for the embedded SQLite catalog) the lakehouse catalog.

    Raises:
        CatalogUnavailableError: the catalog's server or database cannot be reached.
    """
    catalog = settings.resolved_catalog()
    _prepare_local_paths(catalog)
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            return load_catalog(CATALOG_NAME, **catalog_properties(catalog))
        except OperationalError as exc:
            # Other processes or threads creating a brand-new SQLite catalog's own tables at
            # the same time: each lost race means one more table exists, so open again.
            if "already exists" in str(exc.orig) and attempt < OPEN_ATTEMPTS:
                continue
            # Driver messages span lines (psycopg2 adds a hint); the error must stay one line.
            reason = " ".join(str(exc.orig).split())
            raise CatalogUnavailableError(
                f"cannot reach the {catalog.type} catalog at {_redact(catalog.uri)} ({reason}). "
                "Start it, or pick another profile with --profile/C360_PROFILE."
            ) from exc
    raise AssertionError("unreachable: the loop returns or raises")


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
