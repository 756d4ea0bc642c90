"""Typed records that flow through the leadsinstruct pipelines.

Every record is a plain dataclass: lists stay lists, a missing value is ``None``.
``schemas.arrow`` derives the Parquet schema of each table from these classes.
"""
from schemas.records import *  # noqa: F401,F403
