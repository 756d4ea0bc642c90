"""Fetch stage: E-utilities, ClinicalTrials.gov API v2 and bulk files → the raw zone.

Pure Python (no Beam import): a polite HTTP client (``http``), the raw zone (``rawzone``),
source-specific request plans (``eutils``, ``ctgov_api``, ``bulk``), progress (``progress``) and
the orchestration of one fetch (``run``). The build pipeline reads what this stage writes.
"""
