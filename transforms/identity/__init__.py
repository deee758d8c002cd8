"""Identity resolution: which records of which sources belong to the same person.

Pure functions over Polars frames (and in-memory DuckDB, for Splink and for summing up
millions of events); `flows/resolve.py` reads staging and writes the results.
"""
