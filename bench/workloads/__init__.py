"""The workload registry: every module in this package is one workload.

Adding a workload is adding a module here that defines `WORKLOAD` (a `bench.runner.Workload`).
"""

from __future__ import annotations

import importlib
import pkgutil

from bench.runner import Workload


def available() -> dict[str, Workload]:
    """Every workload in this package, by name.

    Raises:
        TypeError: a module here does not define a `WORKLOAD`.
    """
    found: dict[str, Workload] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        workload = getattr(module, "WORKLOAD", None)
        if not isinstance(workload, Workload):
            raise TypeError(f"{module.__name__} must define WORKLOAD = bench.runner.Workload(...)")
        found[workload.name] = workload
    return dict(sorted(found.items()))
