"""The core every job builds on; it imports nothing above it (the import contract in pyproject.toml).

- ``errors``: ``LlmdriftError``, the base of every reported failure.
- ``storage``: local paths and ``s3://`` URIs behind one interface; ``s3a``: the local S3A jars.
- ``schemas`` and ``tables``: the table schema files and partitioned Parquet reads and writes.
- ``spark``: the Spark session factory (local or Glue's).
- ``runs``: run ids, the ingest watermark and what ingest wrote since a downstream job's last run.
- ``windows``: day windows (``2026-11-02..2026-11-05``).
- ``lock``: one pipeline run per warehouse.
- ``settings``: the TOML configuration file.
"""
