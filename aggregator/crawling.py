"""The one place that starts crawls: in this process, as `scrapy crawl`, local-site settings."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from aggregator.exceptions import SettingsError

if TYPE_CHECKING:
    from scrapy.settings import Settings

SPIDER = "techblogs"

# Sites on 127.0.0.1 (demo, tests, benchmarks) answer at once: no politeness delays there.
# Strings, as on a `-s NAME=VALUE` command line; Scrapy reads them the same in-process.
LOCAL_SITE_SETTINGS: Mapping[str, str] = MappingProxyType(
    {
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    }
)


# The smallest delay between two requests to one host (see PerHostLimit)
MIN_DOWNLOAD_DELAY = 0.001

# Settings whose value is a duration; True where "0" is allowed (it means "never")
DURATION_SETTINGS: Mapping[str, bool] = MappingProxyType(
    {
        "AGGREGATOR_CRAWL_TIME_LIMIT": False,
        "AGGREGATOR_MIN_INTERVAL": False,
        "AGGREGATOR_MAX_INTERVAL": False,
        "AGGREGATOR_MAX_BACKOFF": False,
        "AGGREGATOR_GRACE_PERIOD": False,
        "AGGREGATOR_RAW_HTML_RETENTION": True,
        "AGGREGATOR_ARTICLE_RETENTION": True,
        "AGGREGATOR_RETENTION_EVERY": False,
        "AGGREGATOR_RETRY_BACKOFF": False,
    }
)
_BOOLEANS = frozenset({"0", "1", "true", "false"})


def setting_problem(name: str, value: str) -> str | None:
    """Say what is wrong with a setting's value given as text, from its default's type; or None."""
    from scrapy.settings import Settings

    from aggregator.humanize import parse_duration

    if name in DURATION_SETTINGS:
        if DURATION_SETTINGS[name] and value.strip() == "0":
            return None
        try:
            parse_duration(value)
        except ValueError:
            zero = ", or 0" if DURATION_SETTINGS[name] else ""
            return f"{name}={value!r} is not valid: expected a duration like 90s, 15m, 6h{zero}"
        return None
    defaults = Settings()
    defaults.setmodule("aggregator.settings", priority="project")
    default = defaults.get(name)
    if isinstance(default, bool):
        if value.strip().lower() not in _BOOLEANS:
            return f"{name}={value!r} is not valid: expected true or false (or 1 or 0)"
    elif isinstance(default, int | float):
        try:
            float(value)
        except ValueError:
            return f"{name}={value!r} is not valid: expected a number like {default}"
    return None


def parse_overrides(overrides: Iterable[str]) -> dict[str, str]:
    """Read `NAME=VALUE` settings (as `scrapy crawl -s` takes them), checking their values."""
    settings: dict[str, str] = {}
    for override in overrides:
        name, sep, value = override.partition("=")
        if not sep or not name:
            raise SettingsError(f"{override!r} is not NAME=VALUE")
        if problem := setting_problem(name, value):
            raise SettingsError(problem)
        settings[name] = value
    return settings


def check_environment() -> None:
    """Raise SettingsError naming every AGGREGATOR_* environment variable of the wrong form."""
    from aggregator import settings

    problems = dict(settings.invalid_environment)
    for name in DURATION_SETTINGS:
        value = os.environ.get(name, "").strip()
        if value and (problem := setting_problem(name, value)):
            problems[name] = problem
    if problems:
        raise SettingsError("; ".join(problems[name] for name in sorted(problems)))


def crawl_settings(
    db_url: str, sources_path: str, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Return the project's Scrapy settings for a crawl of sources_path into db_url."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("aggregator.settings", priority="project")
    values = {"AGGREGATOR_DB_URL": db_url, "AGGREGATOR_SOURCES": sources_path, **(overrides or {})}
    for key, value in values.items():
        settings.set(key, value, priority="cmdline")
    return settings


def run_crawl(
    db_url: str,
    sources_path: str,
    spider_args: Mapping[str, str],
    extra_settings: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> int | None:
    """Run the techblogs spider in this process; return the id of the crawl run it recorded.

    Once per process: the Twisted reactor cannot be restarted.
    """
    from scrapy.crawler import CrawlerProcess

    overrides = {
        "AGGREGATOR_PROGRESS_INTERVAL": 1.0 if progress else 0,
        "LOG_INSTALL_ROOT_HANDLER": False,
        **(extra_settings or {}),
    }
    process = CrawlerProcess(crawl_settings(db_url, sources_path, overrides))
    crawler = process.create_crawler(SPIDER)
    process.crawl(crawler, **spider_args)
    # Scrapy's SIGINT/SIGTERM handlers outlive the crawl, and would swallow the signals of
    # whatever this process does next (`aggregator demo --serve`): they go when it is over
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        process.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    run_id = crawler.stats.get_value("aggregator/crawl_run") if crawler.stats else None
    return int(run_id) if run_id is not None else None


def scrapy_crawl_command(
    spider_args: Mapping[str, object] | None = None,
    settings: Mapping[str, object] | None = None,
) -> list[str]:
    """Return the `scrapy crawl techblogs -a NAME=VALUE... -s NAME=VALUE...` command line."""
    command = [sys.executable, "-m", "scrapy", "crawl", SPIDER]
    for key, value in (spider_args or {}).items():
        command += ["-a", f"{key}={value}"]
    for key, value in (settings or {}).items():
        command += ["-s", f"{key}={value}"]
    return command


class PerHostLimit:
    """Scrapy add-on: keep CONCURRENT_REQUESTS_PER_DOMAIN a limit when DOWNLOAD_DELAY is 0.

    Scrapy 2.19 starts every queued request of a host at once when the delay is 0 (the limit
    is checked before any of them counts as transferring); a delay of a millisecond restores
    the limit at no cost worth measuring.
    """

    def update_settings(self, settings: Settings) -> None:
        if settings.getfloat("DOWNLOAD_DELAY") <= 0:
            priority = settings.getpriority("DOWNLOAD_DELAY") or 0
            settings.set("DOWNLOAD_DELAY", MIN_DOWNLOAD_DELAY, priority=priority)
