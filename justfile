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

# Run the test suite (pytest arguments pass through)
test *args:
    uv sync --frozen --inexact --quiet --extra spark
    pytest "$@"

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

# Run dbt against a target (`just model --target prod`)
model *args:
    c360 model "$@"

# Time benchmarks side by side (`just bench landing`)
bench *args:
    python -m bench "$@"

# Delete the lakehouse and simulated sources (C360_HOME)
reset:
    c360 reset --yes

# Bring up the full stack (docker compose; needs a Docker engine)
up:
    docker compose up -d --wait

# Tear the stack down
down:
    docker compose down
