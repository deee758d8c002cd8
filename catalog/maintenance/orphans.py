"""Orphan files: the files under a table's location that no retained snapshot, manifest or
metadata file names, deleted once older than a grace period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow.fs as pafs
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table


class OrphanListingError(RuntimeError):
    """A table's location cannot be told apart from what is not the table's (its listing
    misses its own metadata file, or another table lives inside it): nothing was deleted."""


@dataclass(frozen=True)
class Removal:
    """The files `remove_orphan_files` deleted (or would delete, in a dry run)."""

    files: tuple[str, ...]
    bytes: int


def referenced_files(table: Table) -> set[str]:
    """Every file the table's metadata names: the current and logged metadata files,
    statistics files, and for every retained snapshot its manifest list, its manifests and
    their live data and delete files."""
    metadata = table.metadata
    files = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    files |= {s.statistics_path for s in metadata.statistics}
    files |= {s.statistics_path for s in metadata.partition_statistics}
    manifests = {}
    for snapshot in metadata.snapshots:
        files.add(snapshot.manifest_list)
        manifests.update({m.manifest_path: m for m in snapshot.manifests(table.io)})
    files.update(manifests)
    for manifest in manifests.values():
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            files.add(entry.data_file.file_path)
    return files


def remove_orphan_files(table: Table, *, older_than: datetime, dry_run: bool = False) -> Removal:
    """Delete the files under the table's location that `referenced_files` does not name
    and that were last modified before `older_than`.

    Files are listed before the references are read, so a file committed meanwhile counts
    as referenced; `older_than` must leave room for the longest write in flight.

    Raises:
        OrphanListingError: the listing misses the table's own metadata file (a location
            this function cannot read right); nothing was deleted.
    """
    table.refresh()
    fs, root = _filesystem(table)
    own_metadata = _fs_path(table.metadata_location)
    listed = {
        info.path: info
        for info in fs.get_file_info(pafs.FileSelector(root, recursive=True))
        if info.type == pafs.FileType.File
    }
    if own_metadata not in listed:
        raise OrphanListingError(
            f"{'.'.join(table.name())}: listing {root} did not find its metadata file "
            f"{own_metadata}; no file was deleted"
        )
    table.refresh()
    referenced = {_fs_path(location) for location in referenced_files(table)}
    cutoff_ns = int(older_than.timestamp() * 1e9)
    orphans = sorted(
        path
        for path, info in listed.items()
        if path not in referenced and info.mtime_ns is not None and info.mtime_ns < cutoff_ns
    )
    freed = sum(listed[path].size or 0 for path in orphans)
    if not dry_run:
        for path in orphans:
            try:
                fs.delete_file(path)
            except FileNotFoundError:
                continue  # gone already (another maintenance run)
    return Removal(tuple(orphans), freed)


def _filesystem(table: Table) -> tuple[pafs.FileSystem, str]:
    """The table's file system (with the catalog's credentials) and its location on it."""
    io = table.io if isinstance(table.io, PyArrowFileIO) else PyArrowFileIO(table.io.properties)
    scheme, netloc, path = PyArrowFileIO.parse_location(table.location(), io.properties)
    return io.fs_by_scheme(scheme, netloc), path.rstrip("/")


def _fs_path(location: str) -> str:
    """A location as the file system lists it: `bucket/key` for S3, an absolute local path."""
    return PyArrowFileIO.parse_location(location)[2]
