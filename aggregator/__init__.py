"""Tech-news aggregation: crawl tech blogs, keep the clean article, store it in SQL."""

__version__ = "0.1.0"
