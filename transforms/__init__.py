"""Staging transforms, written once per engine in parallel packages with the same names.

`transforms/polars/`, `transforms/duckdb/` and `transforms/spark/` each hold:

- `engine.py`: `ENGINE`, the engine's adapter (`transforms.engines.Engine`): load rows
  into the engine's frame type, split checked rows, hand results back as Arrow;
- `contracts.py`: `check(frame, rules)`, the contract rules (`catalog.contracts.rules`);
- `normalise.py`: email, phone, name, country and date normalisers;
- `cdc.py`: `latest_state(prior, history, key, order_by)`;
- one module per source family (`crm_customers`, `orders`, `clickstream`, `vendor_files`,
  `tickets`), each function `stage_<table>(prior, raw) -> frame`.

A staging function is pure: `prior` is the staging table as the last run left it (empty on
a first or full run), `raw` the raw rows that arrived since and passed the contract. It
returns the table's new state (current-state tables) or only the rows to append (event
tables), with the staging table's columns in order. The three engines return the same
rows with the same values; tests/transforms/test_engine_equality.py proves it.
"""
