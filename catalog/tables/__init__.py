"""Table definitions, one module per zone: the single source for writers, validators and docs."""
