"""The warehouse tables in the Glue Data Catalog and in SQL.

- ``ddl``: Glue ``TableInput`` dicts and Athena ``CREATE EXTERNAL TABLE`` statements, generated from the
  schema files (pure functions).
- ``sync``: creates the database and tables in Glue and registers the partitions found in the warehouse.
- ``query``: runs Athena (Trino) SQL against a local warehouse with DuckDB; ``queries/`` holds the named
  queries shipped to Athena.

Importing this package imports neither boto3 nor DuckDB.
"""
