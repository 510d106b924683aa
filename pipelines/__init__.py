"""Scrapy item pipelines: thin adapters over aggregator.ingest and aggregator.store."""
