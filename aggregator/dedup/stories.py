"""Story grouping: articles by different outlets about the same event share one story."""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import OrderedDict, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

# Function words and reporting verbs: they say nothing about which event an article covers.
_STOPWORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    said says say saying told tell according report reports reported new one two may might must
    shall us via amid ago get got go going make made like many much even still yet
    monday tuesday wednesday thursday friday saturday sunday week weeks today yesterday year
    years day days time mr mrs ms
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
# Typographic apostrophes folded to "'" so possessives and contractions tokenise one way.
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2018\u2019\u201b\u2032\u02bc`\u00b4", "'"))
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
ENTITY_PREFIX = "@"


@dataclass(frozen=True)
class StoryArticle:
    """An article as story grouping sees it."""

    id: str
    source: str
    title: str
    text: str
    published: datetime


@dataclass(frozen=True)
class StoryParams:
    """The tuned constants of story grouping."""

    window: timedelta = timedelta(days=3)
    threshold: float = 0.14
    density_slope: float = 0.04
    title_weight: float = 2.0
    entity_weight: float = 1.0
    same_source_factor: float = 1.0
    article_keys: int = 8
    story_keys: int = 24
    stories_per_key: int = 32
    centroid_terms: int = 96
    headline_titles: int = 16


@dataclass
class StoryState:
    """What the store keeps of one story: counts, times, headline and its term profile."""

    id: str
    headline: str
    first_seen: datetime
    last_seen: datetime
    article_count: int
    sources: tuple[str, ...]
    # The sum of its articles' unit TF-IDF vectors, each weighted with the IDF of its day:
    # frozen weights need no document-frequency lookups for the story's terms.
    centroid: dict[str, float] = field(default_factory=dict)
    titles: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()

    @property
    def source_count(self) -> int:
        """Return the number of distinct outlets in the story."""
        return len(self.sources)


@dataclass(frozen=True)
class StoryDecision:
    """Where an article went: its story, whether that story is new, and the similarity."""

    story_id: str
    is_new: bool
    similarity: float
    story: StoryState


class StoryStore(Protocol):
    """The storage operations story grouping needs; each maps to one indexed SQL statement."""

    def doc_count(self) -> int:
        """Return how many documents the document frequencies count."""
        ...

    def document_frequencies(self, terms: Collection[str]) -> dict[str, int]:
        """Return the document frequency of each known term among terms."""
        ...

    def add_document_terms(self, terms: Collection[str]) -> None:
        """Count one more document containing each of the distinct terms."""
        ...

    def candidate_stories(
        self, keys: Collection[str], since: datetime, per_key: int
    ) -> list[StoryState]:
        """Return stories seen since a time that carry a key, the latest per_key for each key."""
        ...

    def save_story(self, story: StoryState) -> None:
        """Insert or replace a story and its key postings."""
        ...


class InMemoryStoryStore:
    """A StoryStore in dictionaries, for tests and benchmarks."""

    def __init__(self) -> None:
        self.documents = 0
        self.frequencies: dict[str, int] = {}
        self.stories: dict[str, StoryState] = {}
        # Per key, story ids ordered by last_seen: the newest are read from the end, like an
        # index on (key, last_seen) in SQL, so a lookup never walks old postings.
        self.postings: dict[str, OrderedDict[str, datetime]] = {}
        self.postings_read = 0

    def doc_count(self) -> int:
        """Return how many documents the document frequencies count."""
        return self.documents

    def document_frequencies(self, terms: Collection[str]) -> dict[str, int]:
        """Return the document frequency of each known term among terms."""
        frequencies = self.frequencies
        return {term: frequencies[term] for term in terms if term in frequencies}

    def add_document_terms(self, terms: Collection[str]) -> None:
        """Count one more document containing each of the distinct terms."""
        self.documents += 1
        frequencies = self.frequencies
        for term in set(terms):
            frequencies[term] = frequencies.get(term, 0) + 1

    def candidate_stories(
        self, keys: Collection[str], since: datetime, per_key: int
    ) -> list[StoryState]:
        """Return stories seen since a time that carry a key, the latest per_key for each key."""
        found: dict[str, StoryState] = {}
        for key in keys:
            posting = self.postings.get(key)
            if not posting:
                continue
            for taken, story_id in enumerate(reversed(posting)):
                if taken >= per_key:
                    break
                self.postings_read += 1
                if posting[story_id] < since:
                    break
                found.setdefault(story_id, self.stories[story_id])
        return list(found.values())

    def save_story(self, story: StoryState) -> None:
        """Insert or replace a story and its key postings."""
        previous = self.stories.get(story.id)
        if previous is not None:
            for key in previous.keys:
                self.postings[key].pop(story.id, None)
        self.stories[story.id] = story
        for key in story.keys:
            posting = self.postings.setdefault(key, OrderedDict())
            posting[story.id] = story.last_seen
            # Out-of-order arrivals keep the posting sorted by last_seen for the early stop.
            if len(posting) > 1:
                _resort_tail(posting, story.id)


def _resort_tail(posting: OrderedDict[str, datetime], story_id: str) -> None:
    """Move a just-appended posting back past newer ones so the order stays by last_seen."""
    seen = posting[story_id]
    newer = []
    for other in reversed(posting):
        if other == story_id:
            continue
        if posting[other] <= seen:
            break
        newer.append(other)
    for other in reversed(newer):
        posting.move_to_end(other)


def _stem(word: str) -> str:
    """Return a light English stem: plural, -ing and -ed endings removed."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    """Return the words of a text with possessives and apostrophes removed."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    words = []
    for match in _TOKEN.finditer(text):
        word = match.group()
        if word[-2:] in ("'s", "'S"):
            word = word[:-2]
        words.append(word.replace("'", ""))
    return words


def _capitalised(word: str) -> bool:
    """Return whether a word looks like part of a name: Capitalised or an acronym."""
    return word[:1].isupper() and (not word.isupper() or len(word) > 1)


def _entities(words: list[str]) -> list[str]:
    """Return runs of two or more capitalised words, the names of people, places and bodies."""
    entities = []
    run: list[str] = []
    for word in [*words, ""]:
        if _capitalised(word) and word.lower() not in STOPWORDS:
            run.append(word.lower())
            continue
        if len(run) >= 2:
            entities.append(ENTITY_PREFIX + " ".join(run))
        run = []
    return entities


def content_terms(text: str) -> list[str]:
    """Return the stemmed content words of a text, numbers included."""
    return [
        _stem(lowered)
        for word in _words(text)
        if ((lowered := word.lower()) not in STOPWORDS and len(lowered) > 1) or word.isdigit()
    ]


def article_terms(title: str, text: str, params: StoryParams) -> dict[str, float]:
    """Return the sublinear term weights of an article before IDF, titles and names boosted."""
    counts: defaultdict[str, float] = defaultdict(float)
    for term in content_terms(title):
        counts[term] += params.title_weight
    for term in content_terms(text):
        counts[term] += 1.0
    if params.entity_weight:
        for entity in _entities(_words(text)):
            counts[entity] += params.entity_weight
    return {term: 1.0 + math.log(count) for term, count in counts.items() if count > 0}


def _idf(df: int, documents: int) -> float:
    """Return the smoothed inverse document frequency."""
    return math.log((documents + 1) / (df + 1)) + 1.0


def _weighted(
    terms: Mapping[str, float], frequencies: Mapping[str, int], documents: int
) -> dict[str, float]:
    """Return a unit-length TF-IDF vector of term weights."""
    vector = {term: tf * _idf(frequencies.get(term, 0), documents) for term, tf in terms.items()}
    norm = math.sqrt(sum(value * value for value in vector.values()))
    return {term: value / norm for term, value in vector.items()} if norm else {}


def _cosine(unit: Mapping[str, float], other: Mapping[str, float]) -> float:
    """Return the cosine of a unit vector with any vector."""
    dot = sum(value * other[term] for term, value in unit.items() if term in other)
    if not dot:
        return 0.0
    return dot / math.sqrt(sum(value * value for value in other.values()))


def _unit(terms: Mapping[str, float]) -> dict[str, float]:
    """Return a vector scaled to unit length."""
    norm = math.sqrt(sum(value * value for value in terms.values()))
    return {term: value / norm for term, value in terms.items()} if norm else {}


def _top(vector: Mapping[str, float], count: int) -> list[str]:
    """Return the count highest-weighted terms, ties broken by term for stable results."""
    return [term for _, term in heapq.nlargest(count, ((v, t) for t, v in vector.items()))]


def representative_title(titles: Iterable[str], centroid: Mapping[str, float]) -> str:
    """Return the title closest to the story's term profile, the earliest on a tie."""
    best, best_score = "", -1.0
    for title in titles:
        terms = {term: 1.0 for term in content_terms(title)}
        score = _cosine(_unit(terms), centroid) if terms else 0.0
        if score > best_score + 1e-12:
            best, best_score = title, score
    return best


def assign_story(
    store: StoryStore, article: StoryArticle, params: StoryParams | None = None
) -> StoryDecision:
    """Put an article into the best-matching recent story, or start a new story with it."""
    params = params or StoryParams()
    terms = article_terms(article.title, article.text, params)
    store.add_document_terms(terms)
    documents = store.doc_count()
    frequencies = store.document_frequencies(terms)
    vector = _weighted(terms, frequencies, documents)
    keys = _top(vector, params.article_keys)
    since = article.published - params.window
    candidates = store.candidate_stories(keys, since, params.stories_per_key)
    best: StoryState | None = None
    best_score = 0.0
    for story in candidates:
        if story.last_seen < since or story.first_seen > article.published + params.window:
            continue
        score = _story_similarity(vector, story)
        if article.source in story.sources:
            score *= params.same_source_factor
        if score > best_score:
            best, best_score = story, score
    # The more recent stories share the article's key terms, the likelier a chance match:
    # the bar rises with the log of their number, so dense news days ask for more evidence.
    threshold = params.threshold + params.density_slope * math.log1p(len(candidates))
    if best is None or best_score < threshold:
        story = StoryState(
            id=article.id,
            headline=article.title,
            first_seen=article.published,
            last_seen=article.published,
            article_count=1,
            sources=(article.source,),
            centroid=vector,
            titles=(article.title,),
            keys=tuple(keys[: params.story_keys]),
        )
        store.save_story(story)
        return StoryDecision(story.id, True, best_score, story)
    story = _joined(best, article, vector, params)
    store.save_story(story)
    return StoryDecision(story.id, False, best_score, story)


def _story_similarity(vector: Mapping[str, float], story: StoryState) -> float:
    """Return the article's mean cosine to the story's articles (group-average linkage)."""
    # Dividing by the article count, not the centroid's length, keeps a sprawling story from
    # looking closer than it is: centroid cosine chained unrelated articles into big stories.
    centroid = story.centroid
    dot = sum(value * centroid[term] for term, value in vector.items() if term in centroid)
    return dot / story.article_count


def _joined(
    story: StoryState, article: StoryArticle, vector: Mapping[str, float], params: StoryParams
) -> StoryState:
    """Return the story with one more article folded into its counts, profile and headline."""
    centroid = dict(story.centroid)
    for term, value in vector.items():
        centroid[term] = centroid.get(term, 0.0) + value
    # The profile is trimmed so a long-running story's row and comparison cost stay bounded.
    kept = _top(centroid, params.centroid_terms)
    centroid = {term: centroid[term] for term in kept}
    titles = story.titles
    if len(titles) < params.headline_titles:
        titles = (*titles, article.title)
    sources = story.sources if article.source in story.sources else (*story.sources, article.source)
    return replace(
        story,
        headline=representative_title(titles, centroid),
        first_seen=min(story.first_seen, article.published),
        last_seen=max(story.last_seen, article.published),
        article_count=story.article_count + 1,
        sources=sources,
        centroid=centroid,
        titles=titles,
        keys=tuple(kept[: params.story_keys]),
    )
