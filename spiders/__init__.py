"""Scrapy spiders of the aggregator."""
