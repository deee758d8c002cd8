"""The landing zone where vendors drop files and tickets arrive: a folder or an S3 bucket.

Both backends sit behind one small interface, `Landing`, and `open_landing` picks one from
`sources.landing` (a folder, or an `s3://bucket/prefix` URL). Keys are `/`-separated paths
relative to the landing root, e.g. `loyalty/loyalty_members_20260101.json`; a key segment
starting with `.` is reserved for files still being written and is never listed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import polars as pl
from botocore.exceptions import BotoCoreError, ClientError

from c360.s3 import s3_client
from c360.settings import S3Settings, Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

S3_SCHEME = "s3://"
# What a manifest dataset name carries for a file the vendor broke (it must be quarantined).
MALFORMED_SUFFIX = "#malformed"

T = TypeVar("T")


class LandingUnavailableError(RuntimeError):
    """The landing zone cannot be reached or written; the message says which and what to do."""


class Landing(Protocol):
    """A place files are dropped into, read back from, and moved aside in."""

    location: str

    def put(self, key: str, data: bytes) -> None:
        """Write `data` at `key` atomically: readers see the whole file or none of it."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes at `key`.

        Raises:
            FileNotFoundError: nothing is stored at `key`.
        """
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Every key starting with `prefix`, sorted."""
        ...

    def move(self, key: str, new_key: str) -> None:
        """Move the file at `key` to `new_key` (e.g. into a quarantine folder).

        Raises:
            FileNotFoundError: nothing is stored at `key`.
        """
        ...


def open_landing(settings: Settings) -> Landing:
    """The landing zone for `settings`: S3 when `sources.landing` is an `s3://` URL (with the
    object store's endpoint and keys from `catalog.s3`), else a local folder."""
    landing = settings.resolved_sources().landing
    assert landing, "every profile names a landing zone"
    if landing.startswith(S3_SCHEME):
        bucket, _, prefix = landing.removeprefix(S3_SCHEME).partition("/")
        return S3Landing(bucket, prefix, settings.resolved_catalog().s3)
    return LocalLanding(Path(landing))


def rows_checksum(rows: pl.DataFrame) -> str:
    """A checksum of the rows a landed file carries, reproducible by whoever parses it back.

    Independent of row and column order and of value types: every value is compared as its
    text (null as empty), columns by name, rows sorted, written as CSV and hashed.
    """
    text = rows.select(pl.col(name).cast(pl.String).fill_null("") for name in sorted(rows.columns))
    ordered = text.sort(text.columns, maintain_order=True) if text.width else text
    return hashlib.sha256(ordered.write_csv().encode()).hexdigest()


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts) or "\\" in key:
        raise ValueError(f"bad landing key {key!r}: use `/`-separated names, none starting with .")
    return key


class LocalLanding:
    """A landing zone in a local folder; files appear by rename, so never half-written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.location = str(folder)

    def put(self, key: str, data: bytes) -> None:
        path = self.folder / _check_key(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        except OSError as exc:
            raise LandingUnavailableError(
                f"cannot write {key} into the landing folder {self.folder}: {exc.strerror}. "
                "Fix C360_SOURCES__LANDING or the folder's permissions."
            ) from exc
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        path = self.folder / _check_key(key)
        if not path.is_file():
            raise FileNotFoundError(f"no {key} in the landing folder {self.folder}")
        return path.read_bytes()

    def list(self, prefix: str = "") -> list[str]:
        # Walk only below the deepest folder the prefix names.
        start = self.folder / prefix.rpartition("/")[0]
        if not start.is_dir():
            return []
        keys = []
        for folder, dirs, files in os.walk(start):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.startswith("."):
                    continue
                key = Path(folder, name).relative_to(self.folder).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def move(self, key: str, new_key: str) -> None:
        source = self.folder / _check_key(key)
        target = self.folder / _check_key(new_key)
        if not source.is_file():
            raise FileNotFoundError(f"no {key} in the landing folder {self.folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)


class S3Landing:
    """A landing zone under `s3://bucket/prefix` on AWS or any S3-compatible server.

    Args:
        bucket: the bucket, which must exist (the compose stack creates `c360-landing`).
        prefix: the folder inside the bucket that keys are relative to (may be empty).
        s3: endpoint and credentials; empty fields fall back to the AWS default chain.
        client: a ready boto3 S3 client to use instead of building one from `s3`.
    """

    def __init__(
        self, bucket: str, prefix: str, s3: S3Settings, client: S3Client | None = None
    ) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.location = f"{S3_SCHEME}{bucket}/{self.prefix}"
        self.endpoint = s3.endpoint
        self.client = client or s3_client(s3)

    def put(self, key: str, data: bytes) -> None:
        # A single PUT is atomic on S3: the object appears whole or not at all.
        name = self.prefix + _check_key(key)
        self._call(key, lambda: self.client.put_object(Bucket=self.bucket, Key=name, Body=data))

    def get(self, key: str) -> bytes:
        name = self.prefix + _check_key(key)
        response = self._call(key, lambda: self.client.get_object(Bucket=self.bucket, Key=name))
        return response["Body"].read()

    def list(self, prefix: str = "") -> list[str]:
        def collect() -> list[str]:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            names = [o["Key"] for page in pages for o in page.get("Contents", [])]
            keys = [n.removeprefix(self.prefix) for n in names]
            return sorted(k for k in keys if not any(p.startswith(".") for p in k.split("/")))

        return self._call(prefix or "(all)", collect)

    def move(self, key: str, new_key: str) -> None:
        source, target = self.prefix + _check_key(key), self.prefix + _check_key(new_key)
        # S3 has no rename: copy, then delete the original once the copy exists.
        self._call(
            key,
            lambda: self.client.copy_object(
                Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source}
            ),
        )
        self._call(key, lambda: self.client.delete_object(Bucket=self.bucket, Key=source))

    def _call(self, key: str, request: Callable[[], T]) -> T:
        """Run one S3 request, turning the errors a user can meet into one clear line."""
        try:
            return request()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(f"no {key} in the landing zone {self.location}") from exc
            if code == "NoSuchBucket":
                raise LandingUnavailableError(
                    f"the landing bucket {self.bucket} does not exist at "
                    f"{self.endpoint or 'AWS'}: create it or fix C360_SOURCES__LANDING"
                ) from exc
            raise LandingUnavailableError(
                f"the landing zone {self.location} refused {key} ({code}): "
                "check the keys in C360_CATALOG__S3__*"
            ) from exc
        except BotoCoreError as exc:
            reason = " ".join(str(exc).split())
            raise LandingUnavailableError(
                f"cannot reach the landing zone {self.location} ({reason}): start the object "
                "store or fix C360_CATALOG__S3__ENDPOINT"
            ) from exc
