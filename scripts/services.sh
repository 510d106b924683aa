#!/usr/bin/env bash
# What the tests need on this machine, brought up when missing (used by `make test`, hence .ci/run):
#   postgres  PostgreSQL on 127.0.0.1:5432 started, trust auth for 127.0.0.1, a `test` database
#   redis     Redis on 127.0.0.1:6379 started
#   chromium  Debian's /usr/bin/chromium for the browser tests (never a Playwright download)
# Usage: scripts/services.sh [postgres] [redis] [chromium]   (none: all three)
# A service that is not installed or does not come up fails in CI (CI set); elsewhere it is a
# warning and its tests skip with the reason. A missing Chromium always fails.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

fail() {
    echo "services: error: $*" >&2
    exit 1
}

# Outside CI the tests that need this service skip with the reason; in CI they must not
unavailable() {
    if [ -n "${CI:-}" ]; then
        fail "$*"
    fi
    echo "services: warning: $* (the tests that need it will be skipped)" >&2
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "services: error: \`$*\` needs root, and sudo is not installed: run it as root" >&2
        return 1
    fi
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
pg_psql() { psql -h 127.0.0.1 -U postgres -d postgres -Atc "$1" 2>/dev/null; }

postgres() {
    if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
        unavailable "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        return 0
    fi
    local version
    version=$(ls /etc/postgresql 2>/dev/null | head -1)
    if ! pg_up; then
        if [ -z "$version" ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
            unavailable "PostgreSQL does not answer on 127.0.0.1:5432 and no local cluster is set up"
            return 0
        fi
        echo "services: PostgreSQL is down: starting cluster $version/main"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        for _ in $(seq 1 30); do pg_up && break; sleep 1; done
        if ! pg_up; then
            unavailable "PostgreSQL does not answer on 127.0.0.1:5432"
            return 0
        fi
    fi
    # Trust auth on 127.0.0.1 and a `test` database, as DESIGN.md assumes
    if ! pg_psql "select 1" >/dev/null; then
        local hba="/etc/postgresql/$version/main/pg_hba.conf"
        if [ -z "$version" ] || ! as_root test -f "$hba"; then
            unavailable "user postgres cannot log in on 127.0.0.1:5432, and no pg_hba.conf to fix"
            return 0
        fi
        echo "services: trusting 127.0.0.1 in $hba"
        as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
        for _ in $(seq 1 10); do pg_psql "select 1" >/dev/null && break; sleep 1; done
        if ! pg_psql "select 1" >/dev/null; then
            unavailable "user postgres still cannot log in on 127.0.0.1:5432"
            return 0
        fi
    fi
    if ! pg_psql "select 1 from pg_database where datname = 'test'" | grep -q 1; then
        echo "services: creating database test"
        pg_psql "create database test" >/dev/null || fail "could not create database test"
    fi
}

redis_up() {
    if command -v redis-cli >/dev/null 2>&1; then
        redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG
    else
        (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null
    fi
}

redis() {
    redis_up && return 0
    if ! command -v redis-server >/dev/null 2>&1; then
        unavailable "Redis is not installed (Debian: apt-get install redis-server)"
        return 0
    fi
    echo "services: Redis is down: starting it"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
    for _ in $(seq 1 10); do redis_up && return 0; sleep 1; done
    unavailable "Redis does not answer on 127.0.0.1:6379"
}

chromium() {
    [ -x "$CHROMIUM" ] && return 0
    command -v apt-get >/dev/null 2>&1 \
        || fail "$CHROMIUM is missing and apt-get is not here: install Chromium at $CHROMIUM"
    if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
        fail "$CHROMIUM is missing; installing it needs root and sudo is not installed:" \
            "run \`apt-get install -y chromium\` as root"
    fi
    echo "services: $CHROMIUM is missing: installing Debian's chromium package"
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
    as_root "${install[@]}" >/dev/null \
        || { as_root apt-get update >/dev/null && as_root "${install[@]}" >/dev/null; } \
        || fail "could not install Debian's chromium package (the browser tests need $CHROMIUM)"
    [ -x "$CHROMIUM" ] || fail "the chromium package did not provide $CHROMIUM"
}

[ $# -gt 0 ] || set -- postgres redis chromium
for service in "$@"; do
    case "$service" in
        postgres | redis | chromium) "$service" ;;
        *) fail "unknown service '$service' (postgres, redis, chromium)" ;;
    esac
done
