"""Errors the aggregator raises on purpose.

AggregatorError                 base of every domain error; the CLI shows its message
├── SourcesError                the sources file is unreadable or invalid (names file, source, key)
├── SettingsError               a setting (-s NAME=VALUE, AGGREGATOR_* variable) has a bad value
├── FetchError                  a URL could not be fetched outside Scrapy (sources add/check)
├── StoreError                  the database cannot be opened, migrated or written
├── ImportLineError             one line of an import file is invalid (names the line)
├── RejectedPage                a page is not stored: not HTML, no article, a repeat
└── SearchQueryError            a search query cannot be run (aggregator.store.search)
"""


class AggregatorError(Exception):
    """Base class of every error the aggregator raises on purpose."""


class SourcesError(AggregatorError):
    """The sources file is unreadable or invalid."""


class SettingsError(AggregatorError):
    """A setting given on the command line or in the environment has a value of the wrong form."""


class FetchError(AggregatorError):
    """A URL could not be fetched or did not hold what was expected."""


class StoreError(AggregatorError):
    """The database cannot be opened, migrated or written."""


class ImportLineError(AggregatorError):
    """One line of an import file is invalid."""


class RejectedPage(AggregatorError):
    """A fetched page is not stored: not HTML, no article in it, or a repeat within one run."""
