"""The Parquet warehouse: Hive-partitioned event files on any fsspec filesystem."""
