"""Bundled demo blogs and the small HTTP server that serves them on 127.0.0.1."""

from aggregator.demo.server import DEMO_SITES, Route, SiteGroup, SiteServer

__all__ = ["DEMO_SITES", "Route", "SiteGroup", "SiteServer"]
