"""Duplicate detection: canonical URLs and text fingerprints."""
