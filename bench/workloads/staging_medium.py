"""The staging engine comparison (`bench/workloads/staging.py`) on a `medium` world."""

from bench.workloads.staging import workload
from c360.settings import Scale

WORKLOAD = workload(Scale.MEDIUM)
