"""Datasets: versioned, profiled, PII-scanned training and evaluation data.

``service.py`` is the entry point every interface uses. Ingest streams a file through
``formats`` (reading) → ``kinds`` (validation into canonical rows) → ``hashing``, ``profile``
and a Parquet writer (``ingest``), so memory stays bounded whatever the file size.
"""
