# Everything runs inside .venv in this checkout; `make install` creates it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench bench-extract train-extract bench-dedup bench-crawl bench-search bench-poll bench-workers soak constraints clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/aggregator demo

test: install lint services chromium
	$(BIN)/pytest

.PHONY: services chromium

# PostgreSQL (trust auth on 127.0.0.1, database test) and Redis, started when down
services:
	bash scripts/services.sh postgres redis

# Debian's chromium for the browser tests, installed when missing (never a Playwright download)
chromium:
	bash scripts/services.sh chromium

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Speed and quality figures, each with its reference measured in the same run
bench: bench-extract bench-dedup bench-crawl bench-search bench-poll bench-workers

# A year of articles (1M) on each engine: filling takes about 25 min per engine on 2 busy
# cores (the run about an hour); `make bench-search SEARCH_ARTICLES=100000` for a quick look
SEARCH_ARTICLES ?= 1000000
bench-search: install services
	$(BIN)/python -m benchmarks.search --articles $(SEARCH_ARTICLES) --postgres

soak: install
	$(BIN)/python -m benchmarks.soak --minutes 60

bench-extract: install
	$(BIN)/python -m benchmarks.extract

# The article-or-not model (aggregator/extract/pagetype.json), trained on half A of the devsets
train-extract: install
	$(BIN)/python -m benchmarks.train_extract

# The story benchmark's FAIL is printed (make shows it as an ignored error) and the rest still runs
bench-dedup: install
	-$(BIN)/python -m benchmarks.stories
	$(BIN)/python -m benchmarks.dedup --postgres

bench-crawl: install
	$(BIN)/python -m benchmarks.crawl --postgres

# The scheduler keeping 400 sources at 60 s current (the targets), then 2,000 at 5 min;
# the second runs even when the first fails, and either failing fails the target
# Several machines: 1 and 2 queue workers, each held to one core (PostgreSQL and Redis)
bench-workers: install services
	$(BIN)/python -m benchmarks.workers

bench-poll: install
	status=0; \
	$(BIN)/python -m benchmarks.poll --sources 400 --interval 60s --minutes 4 || status=1; \
	$(BIN)/python -m benchmarks.poll --sources 2000 --interval 5m --minutes 12 || status=1; \
	exit $$status

# Regenerate the pinned versions after changing dependencies in pyproject.toml
constraints:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
