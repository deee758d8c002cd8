"""Settings for a test's own simulated world, out of reach of the shell running the tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from c360.settings import Settings, load_settings


def isolated_settings(home: Path, **overrides: object) -> Settings:
    """The settings of a world at `home` (with `overrides`) that no `C360_*` variable of the
    shell, and no developer's `.env` in the repository, reaches."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("C360_")]:
            patch.delenv(name)
        patch.chdir(home)  # so a developer's `.env` in the repo is not read
        return load_settings(home=home, **overrides)
