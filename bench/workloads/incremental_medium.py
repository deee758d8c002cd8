"""The incremental run's cost (`bench/workloads/incremental.py`) on a `medium` world, where
a full run's work, not each run's fixed costs, dominates."""

from bench.workloads.incremental import workload
from c360.settings import Scale

WORKLOAD = workload(Scale.MEDIUM)
