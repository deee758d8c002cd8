"""Data quality: the seed's five SLOs (section 1.2.2) measured per feed in every run.

Each feed (a raw table with a data contract) is measured against what its source says,
never against the pipeline's own output:

- completeness (>= the contract's `slo_completeness_pct`): rows present in the feed's staging
  table vs the source's own count: the live rows of a source database table (matched by key),
  the distinct events the manifest says were put on the stream, the distinct vendor ids and
  tickets in the simulator's truth (matched by id), the rows of the newest product file;
- uniqueness (<= 0.1 %): rows of the staging table whose identifier another row also has;
- accuracy (>= 99 %): agreement with the source. A database feed's staged rows are compared
  with the source's on a deterministic sample of keys, column by column as canonical text,
  leaving out the columns staging rewrites (names, emails, phones, street, city). A file's
  raw rows are checksummed as the simulator checksummed what it wrote (the manifest). The
  stream keeps no state to ask, so sampled staged events are compared with the JSON they
  arrived as (any of its arrivals, when a producer retried);
- timeliness (>= 98 %): rows of the run's raw batches (else the last batch) captured within
  the contract's `slo_timeliness_minutes` of becoming available: a stream record when the
  stream accepted it, a database row or file when the simulator published its day (the
  publication log, `simulator.world.read_published`). A database row's day is the date of
  the time the source stamped it (order lines: their order's `ordered_at`), history before
  the start being day 0's; under the `clock_skew` fault a row stamped before midnight but
  committed after counts from the day before, so it looks later than it was. Deletes carry
  no time and are left out, as are rows of days the log lacks (each said in the detail);
- schema drift (== 0): the feed's schema changes no contract version has accepted.

A metric that cannot be measured is reported with no value and `passed` None, saying why.
`quality_task` writes one run's results to `ops.dq_results` in one commit.

A run costs what is new, not what the tables hold: timeliness reads only the run's batches;
figures over a whole table (the stream's duplicates and sample, every landed file's
checksum, the draw of a database sample) are carried from the last recorded run and updated
from the rows added since (`running`); counts come from table metadata. What cannot be
updated that way is read whole but narrow: a database's keys (it says not which rows it
deleted), the truth's ids, the identifiers of a staging table rewritten every run.

One module per metric (`completeness`, `uniqueness`, `accuracy` with `stream_accuracy` and
`file_accuracy`, `timeliness`, `schema_drift`); `results` holds the SLOs' names and bounds,
`sources` what the measures compare against, `tables` the lakehouse tables they read,
`agreement` and `sampling` how rows are compared and sampled, `running` what one run
carries to the next, and `run` one run's measuring, recording and summary.
"""

from flows.quality.results import (
    ACCURACY,
    COMPLETENESS,
    SCHEMA_DRIFT,
    TIMELINESS,
    UNIQUENESS,
    DqResult,
)
from flows.quality.run import format_results, measure, quality_task, write_results

__all__ = [
    "ACCURACY",
    "COMPLETENESS",
    "SCHEMA_DRIFT",
    "TIMELINESS",
    "UNIQUENESS",
    "DqResult",
    "format_results",
    "measure",
    "quality_task",
    "write_results",
]
