"""dbt-duckdb plugin: dbt sources read lakehouse tables through the pipeline's own catalog.

Declared in `dbt/profiles.yml` (`module: catalog.dbt_source`); a source sets
`meta: {plugin: lakehouse, iceberg_table: "staging.{identifier}"}`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import SourceConfig

from c360.settings import load_settings
from catalog.factory import open_catalog


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self._catalog = open_catalog(load_settings())

    def load(self, source_config: SourceConfig) -> pa.Table:
        name_format = source_config.get("iceberg_table", "{schema}.{identifier}")
        table = self._catalog.load_table(name_format.format(**source_config.as_dict()))
        return table.scan().to_arrow()
