"""Scrapy settings and AGGREGATOR_* settings: the one source of truth for configuration.

Every AGGREGATOR_* value can be overridden by an environment variable of the same name
(read here) or by `-s NAME=VALUE` on the scrapy command line.
"""

import os

from aggregator import __version__

# AGGREGATOR_* numbers in the environment that could not be read, name -> what is wrong: the
# setting keeps its default and the CLI refuses to run (aggregator.crawling.check_environment
# also checks the durations)
invalid_environment: dict[str, str] = {}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        invalid_environment[name] = f"{name}={raw!r} is not valid: expected a whole number"
        return default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        invalid_environment[name] = f"{name}={raw!r} is not valid: expected a number"
        return default


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE | _FALSE:
        return raw in _TRUE
    invalid_environment[name] = (
        f"{name}={raw!r} is not valid: expected one of {', '.join(sorted(_TRUE | _FALSE))}"
    )
    return default


# Scrapy project wiring
BOT_NAME = "techblog-aggregator"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# Identify ourselves honestly so site owners can reach us
USER_AGENT = (
    f"techblog-aggregator/{__version__} "
    "(+https://github.com/techblog-aggregator/techblog-aggregator)"
)

# Politeness: robots.txt, few parallel requests per site, adaptive delays
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
# A delay of 0 would lift the per-host limit in Scrapy 2.19: 0 means 1 ms (aggregator.crawling)
ADDONS = {"aggregator.crawling.PerHostLimit": 0}
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Limits: a slow or huge response never stalls or floods the crawl
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_TIMES = 2

# Scrapy parses the source of every callback to warn of generators that return a value; its
# cache misses bound methods, so it would parse our callbacks again for every request
WARN_ON_GENERATOR_RETURN_VALUE = False

# Blogs are read as a visitor without a session would: no cookie jars to keep per site
COOKIES_ENABLED = False

# Feeds, sitemaps and pages are fetched once per crawl; our own seen-set handles repeats
DUPEFILTER_CLASS = "scrapy.dupefilters.BaseDupeFilter"

# Clean -> dedup -> store, in this order
ITEM_PIPELINES = {
    "pipelines.clean.CleanPipeline": 300,
    "pipelines.dedup.DedupPipeline": 400,
    "pipelines.store.StorePipeline": 500,
}

# Workers (aggregator.worker) drop the queued requests of a source crawl past its time limit
DOWNLOADER_MIDDLEWARES = {
    "aggregator.worker.CancelledTaskMiddleware": 50,
}

# Progress line on stderr (sources done, pages, articles stored, errors)
EXTENSIONS = {
    "aggregator.progress.ProgressExtension": 500,
}

FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# Where the articles are stored (SQLAlchemy URL; SQLite file in the working directory)
AGGREGATOR_DB_URL = os.environ.get("AGGREGATOR_DB_URL", "sqlite:///aggregator.db")

# The TOML file that lists the blogs to crawl
AGGREGATOR_SOURCES = os.environ.get("AGGREGATOR_SOURCES", "sources.toml")

# Article pages fetched per source and crawl (the spider's -a limit=N overrides it)
AGGREGATOR_ARTICLE_LIMIT = _env_int("AGGREGATOR_ARTICLE_LIMIT", 50)

# How many listing pages deep the spider follows pagination
AGGREGATOR_LISTING_DEPTH = _env_int("AGGREGATOR_LISTING_DEPTH", 3)

# Worker processes that extract articles off the reactor thread ("" or -1: one per CPU;
# 0: extract in the crawl process itself, for debugging)
AGGREGATOR_EXTRACT_PROCESSES = _env_int("AGGREGATOR_EXTRACT_PROCESSES", -1)

# Keep the raw HTML (zlib-compressed) so articles can be re-extracted later
AGGREGATOR_KEEP_RAW_HTML = _env_bool("AGGREGATOR_KEEP_RAW_HTML", True)

# Articles stored in one transaction: up to this many, waiting at most this many seconds for
# each other (a crash loses only uncommitted pages, which the frontier still holds as due)
AGGREGATOR_STORE_BATCH = int(os.environ.get("AGGREGATOR_STORE_BATCH", "20"))
AGGREGATOR_STORE_WAIT = float(os.environ.get("AGGREGATOR_STORE_WAIT", "0.2"))

# Print the progress line on stderr every N seconds (0 disables it)
AGGREGATOR_PROGRESS_INTERVAL = _env_float("AGGREGATOR_PROGRESS_INTERVAL", 0.0)

# Several machines: the Redis queue of `aggregator schedule --queue` and `aggregator worker`,
# and how many source crawls one queue worker runs at once
AGGREGATOR_QUEUE_URL = os.environ.get("AGGREGATOR_QUEUE_URL", "")
AGGREGATOR_WORKER_TASKS = int(os.environ.get("AGGREGATOR_WORKER_TASKS", "8"))

# The scheduler (`aggregator schedule`); durations as in sources.toml ("90s", "15m", "6h")
# Long-lived crawl worker processes (default: one per core); source crawls under way at once
# over all workers, and the time limit of each
AGGREGATOR_WORKERS = _env_int("AGGREGATOR_WORKERS", 0) or os.cpu_count() or 1
AGGREGATOR_MAX_CRAWLS = _env_int("AGGREGATOR_MAX_CRAWLS", 16)
AGGREGATOR_CRAWL_TIME_LIMIT = os.environ.get("AGGREGATOR_CRAWL_TIME_LIMIT", "10m")
# Bounds of the adaptive interval of sources without an `interval`
AGGREGATOR_MIN_INTERVAL = os.environ.get("AGGREGATOR_MIN_INTERVAL", "15m")
AGGREGATOR_MAX_INTERVAL = os.environ.get("AGGREGATOR_MAX_INTERVAL", "6h")
# The longest wait after consecutive failures of a source
AGGREGATOR_MAX_BACKOFF = os.environ.get("AGGREGATOR_MAX_BACKOFF", "6h")
# How long running crawls may finish after SIGTERM/SIGINT before they are stopped
AGGREGATOR_GRACE_PERIOD = os.environ.get("AGGREGATOR_GRACE_PERIOD", "30s")
# Retention: raw HTML kept this long ("0" keeps it forever); articles pruned after this long
# ("0": kept forever, the default); how often the retention job runs
AGGREGATOR_RAW_HTML_RETENTION = os.environ.get("AGGREGATOR_RAW_HTML_RETENTION", "30d")
AGGREGATOR_ARTICLE_RETENTION = os.environ.get("AGGREGATOR_ARTICLE_RETENTION", "0")
AGGREGATOR_RETENTION_EVERY = os.environ.get("AGGREGATOR_RETENTION_EVERY", "24h")

# The frontier: a failing article URL is tried this many times in all, waiting this long before
# the second attempt and twice as long before each next one (404/410 and robots.txt: never again)
AGGREGATOR_RETRY_ATTEMPTS = _env_int("AGGREGATOR_RETRY_ATTEMPTS", 5)
AGGREGATOR_RETRY_BACKOFF = os.environ.get("AGGREGATOR_RETRY_BACKOFF", "1h")

# Set in worker processes (aggregator.worker): the spider stays open and crawls the sources it
# is given, each recorded as its own crawl run
AGGREGATOR_WORKER = False
