"""Observability and alerts: what every `c360 run` did and how fresh its sources are, the
seed's alert rules evaluated on it (section 1.2.5), and the static report over them.

- `tiers`: the seed's latency tiers (1.2.1) and the tier of each feed;
- `steps`: each step's outcome, time, rows, bytes, files and snapshots (`ops.run_steps`);
- `freshness`: each feed's freshness and replication lag (`ops.source_freshness`);
- `partitions`: the daily file deliveries raw never received (they block their models);
- `rules`: the alert rules, raising and resolving alerts in `ops.alerts`;
- `record`: one run's observation: recorded, rules evaluated, alerts routed;
- `health`: the ops tables read back as the figures the report and notebooks show;
- `report`: `c360 report`, a static HTML dashboard with its charts' JavaScript inlined.
"""
