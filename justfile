# c360 commands. `./dev <recipe>` bootstraps the environment first; `just <recipe>` once it exists.

set positional-arguments := true
set quiet := true

export PATH := justfile_directory() / ".venv/bin" + ":" + justfile_directory() / ".tools/bin" + ":" + env_var("PATH")

# List the recipes
default:
    @just --list --unsorted

# Install the locked environment (uv sync)
setup:
    uv sync --frozen

# Run the whole pipeline on the current profile (e.g. `just run --scale tiny`)
run *args:
    c360 run "$@"

# Run the test suite on two workers, a test file each (pytest arguments pass through;
# `-n 0` runs in one process)
test *args: browser
    uv sync --frozen --inexact --quiet --extra spark
    pytest -n 2 --dist loadfile "$@"

# Install Debian's Chromium for the browser tests, once
browser:
    #!/bin/sh
    command -v chromium >/dev/null && exit 0
    if [ "$(id -u)" = 0 ]; then sudo=""
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"
    else echo "browser: no chromium, and neither root nor sudo to install it: the browser tests will skip"; exit 0
    fi
    if ! command -v apt-get >/dev/null; then
        echo "browser: no chromium and no apt-get: install Chromium yourself, or the browser tests will skip"; exit 0
    fi
    echo "browser: installing Debian's chromium (once)"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null \
        || echo "browser: apt-get could not install chromium: the browser tests will skip"

# Refresh docs/prefect-flow-run.png (a `tiny` run's page in the Prefect UI) and docs/report.png
# (`c360 report` of a two-day `tiny` run), in headless Chromium
screenshot: browser
    DOCS_SCREENSHOT=docs/prefect-flow-run.png pytest tests/test_pipeline_e2e.py -q -k prefect_ui
    DOCS_REPORT_SCREENSHOT=docs/report.png pytest tests/flows/observe/test_report.py -q -k chromium

# Lint: ruff, formatting and mypy
lint:
    ruff check .
    ruff format --check .
    mypy

# Format the code
fmt:
    ruff check --fix .
    ruff format .

# Start the Prefect UI on http://127.0.0.1:4200
ui *args:
    c360 ui "$@"

# Emit the simulated sources only
simulate *args:
    c360 simulate "$@"

# Land new source data in raw (`just ingest stream --follow`)
ingest *args:
    c360 ingest "$@"

# Stage what raw gained since the last run (`just stage --full --engine duckdb`)
stage *args:
    c360 stage "$@"

# Resolve identities across the staged sources (customer keys, golden records, metrics)
resolve *args:
    c360 resolve "$@"

# Data contracts: `just contracts list`, `just contracts accept <feed>`
contracts *args:
    c360 contracts "$@"

# Print the catalog settings an outside reader needs
catalog:
    c360 catalog

# List the pipeline runs recorded in ops, newest first (`just runs --limit 5`)
runs *args:
    c360 runs "$@"

# Write the pipeline health dashboard to $C360_HOME/reports/ (`c360 report`)
report *args:
    c360 report "$@"

# Open the notebooks in marimo (`just notebook pipeline_health` opens one)
notebook name="":
    marimo edit {{ if name == "" { "notebooks" } else { "notebooks/" + name + ".py" } }}

# Rebuild a run from the raw snapshots it read and prove it equals what it produced
replay run_id:
    c360 replay "$@"

# Serve the scheduled deployments, one per latency tier, to the `just ui` server
deploy:
    c360 deploy

# Serve the customer lookup API on http://127.0.0.1:8360 (`just serve --port 8400`)
serve *args:
    c360 serve "$@"

# Compact, expire old snapshots, delete unreferenced files (C360_MAINTENANCE__* settings)
maintain *args:
    c360 maintain "$@"

# Run dbt against a target (`just model --target prod`)
model *args:
    c360 model "$@"

# Time benchmarks side by side (`just bench landing`)
bench *args:
    python -m bench "$@"

# Delete the lakehouse and simulated sources (C360_HOME)
reset:
    c360 reset --yes

# Bring up the full stack (docker compose; needs a Docker engine): services, buckets, worker
up:
    docker compose up -d --build --wait

# Run the pipeline on the stack (`just run-stack --scale tiny`), its runs in the stack's Prefect UI
run-stack *args: up
    #!/bin/sh
    set -eu
    export C360_PROFILE=stack
    export C360_HOME="${C360_HOME:-{{justfile_directory()}}/lakehouse/stack}"
    export C360_PREFECT_API_URL="${C360_PREFECT_API_URL:-http://127.0.0.1:4200/api}"
    c360 run "$@"
    c360 runs --limit 1
    echo "Prefect UI: http://127.0.0.1:4200  MinIO console: http://127.0.0.1:9001  (just down stops the stack)"

# Tear the stack down (`just down -v` also deletes its data volumes)
down *args:
    docker compose down "$@"
