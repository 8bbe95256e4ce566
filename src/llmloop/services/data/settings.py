"""Limits and switches of the data service, read from ``LLMLOOP_DATA_*`` variables.

Kept apart from the global ``Settings`` so the data area owns its knobs; read at call time
(not cached) so tests and servers can change them without a restart.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1 << 20


class DataSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMLOOP_DATA_", extra="ignore")

    import_root: Path | None = Field(
        None,
        description="Folder under which the server may read files named by a client (server-side import). "
        "Unset: server-side paths are refused; clients upload instead.",
    )
    max_line_bytes: int = Field(
        64 * MIB, ge=1024, description="Longest JSONL line / JSON element / CSV record accepted, in bytes."
    )
    batch_rows: int = Field(8192, ge=16, description="Rows per Arrow batch while ingesting.")
    row_group_rows: int = Field(131072, ge=16, description="Rows per Parquet row group.")
    ngram_sample_rows: int = Field(
        2000, ge=0, description="Rows (a hash-chosen sample) the n-gram table reads."
    )
    search_scan_rows: int = Field(
        200_000,
        ge=16,
        description="Most rows one row search reads before it answers a partial page with where to resume.",
    )


def data_settings() -> DataSettings:
    return DataSettings()
