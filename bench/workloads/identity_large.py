"""The identity resolution comparison (`bench/workloads/identity.py`) on a `large` world."""

from bench.workloads.identity import workload
from c360.settings import Scale

WORKLOAD = workload(Scale.LARGE)
