"""What a dev dbt build read, so that a build reading the same again is skipped.

A build's result is a function of its inputs: the staging tables' snapshots (the views
`catalog/dbt_source.py` puts over their metadata files), the project's files and the
plugin's code, dbt's and DuckDB's versions, the command's arguments and the project
variables. After a successful build they are recorded beside the DuckDB file, with that
file's size and modification time; a build finding the same inputs and the file as that
build left it has nothing to do. Anything else (an input changed, the file rebuilt, moved
or written by another tool, a dbt command that failed or never recorded) means a build.

Only the dev target: prod's tables live in Snowflake, where this process cannot see what
else changed them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
from dbt.version import __version__ as dbt_version

from c360.settings import REPO_ROOT, Settings
from catalog.factory import open_catalog
from catalog.tables import staging

PLUGIN = REPO_ROOT / "catalog" / "dbt_source.py"
# Folders dbt (run by hand in the repository) may write into the project: not inputs.
GENERATED = {"target", "logs", "dbt_packages"}
RECORD = "built-from.json"


def build_inputs(
    settings: Settings, project: Path, args: list[str], variables: dict[str, str]
) -> dict[str, Any]:
    """Everything a dev build of the dbt `project` with `args` and the project
    `variables` reads."""
    catalog = open_catalog(settings)
    return {
        "args": args,
        "variables": variables,
        "versions": {"dbt": dbt_version, "duckdb": duckdb.__version__},
        "code": _code_digest(project),
        "sources": {
            t.name: catalog.load_table(t.identifier_name).metadata_location for t in staging.TABLES
        },
    }


def built_from(settings: Settings) -> dict[str, Any] | None:
    """The inputs of the last successful build, if its DuckDB file is as that build left
    it; None otherwise."""
    record = settings.dbt_dir / RECORD
    try:
        saved = json.loads(record.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if saved.get("database") != _file_state(settings.dbt_database):
        return None
    inputs = saved.get("inputs")
    return inputs if isinstance(inputs, dict) else None


def record_built(settings: Settings, inputs: dict[str, Any]) -> None:
    """Record `inputs` as what the build that just succeeded read."""
    record = settings.dbt_dir / RECORD
    staged = record.with_suffix(".tmp")
    staged.write_text(
        json.dumps({"inputs": inputs, "database": _file_state(settings.dbt_database)})
    )
    staged.replace(record)


def forget_built(settings: Settings) -> None:
    """Drop the record: a dbt command is about to change the DuckDB file."""
    (settings.dbt_dir / RECORD).unlink(missing_ok=True)


def _file_state(path: Path) -> dict[str, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _code_digest(project: Path) -> str:
    digest = hashlib.sha256()
    files = [
        p
        for p in project.rglob("*")
        if p.is_file() and not GENERATED & set(p.relative_to(project).parts)
    ]
    for path in sorted([*files, PLUGIN]):
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
