"""Identity resolution: which records of which sources belong to the same person.

Pure functions over Polars frames (and an in-memory DuckDB for Splink); `flows/resolve.py`
reads staging and writes the results.
"""
