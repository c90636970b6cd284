#!/usr/bin/env bash
# Run the test suite with a PostgreSQL available for the PostgreSQL tests.
#
# Order of preference:
#   1. REGISTRY_TEST_POSTGRES_URL already set: used as is.
#   2. A server answering on 127.0.0.1:5432 (trust auth, user postgres).
#   3. A throwaway cluster from the installed server binaries, removed on exit.
#   4. Nothing: error under CI=true, otherwise the PostgreSQL tests are skipped.
#
# REGISTRY_TEST_FORCE_THROWAWAY_PG=1 skips step 2 (to exercise step 3).
# Extra arguments and PYTEST_ARGS are passed to pytest. The tests run in parallel, one
# worker per core (REGISTRY_TEST_WORKERS overrides: a number, or 0 for one process).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PG_HOST=127.0.0.1
PG_PORT=5432
THROWAWAY_PORT="${REGISTRY_TEST_THROWAWAY_PG_PORT:-54329}"

log() { echo "test.sh: $*" >&2; }

# Does a PostgreSQL answer on host $1 port $2?
pg_answers() {
    local host=$1 port=$2
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$host" -p "$port" -t 3
    elif command -v psql >/dev/null 2>&1; then
        PGCONNECT_TIMEOUT=3 psql -h "$host" -p "$port" -U postgres -d postgres \
            -Atqc 'select 1' >/dev/null 2>&1
    else
        python3 - "$host" "$port" <<'PY' >/dev/null 2>&1
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
PY
    fi
}

# Print the directory holding initdb/pg_ctl (highest installed version), or fail.
find_pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
        echo "$d"
        return 0
    fi
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

PG_TMPDIR=""
PG_BINDIR=""
AS_PG=()

stop_throwaway() {
    if [[ -n "$PG_TMPDIR" && -d "$PG_TMPDIR" ]]; then
        if [[ -f "$PG_TMPDIR/data/postmaster.pid" ]]; then
            "${AS_PG[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_TMPDIR/data" -m fast -w stop \
                >/dev/null 2>&1 || true
        fi
        rm -rf "$PG_TMPDIR"
    fi
}

start_throwaway() {
    # /tmp rather than $TMPDIR: the postgres user must be able to reach it when we are root.
    PG_TMPDIR=$(mktemp -d /tmp/registry-test-pg.XXXXXX) || return 1
    trap stop_throwaway EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [[ "$(id -u)" == 0 ]]; then
        # initdb refuses to run as root.
        if ! id postgres >/dev/null 2>&1; then
            log "running as root and there is no 'postgres' user to run initdb as"
            return 1
        fi
        chown postgres: "$PG_TMPDIR" || return 1
        AS_PG=(runuser -u postgres --)
    fi
    log "starting a throwaway PostgreSQL ($PG_BINDIR) on port $THROWAWAY_PORT in $PG_TMPDIR"
    "${AS_PG[@]}" "$PG_BINDIR/initdb" -D "$PG_TMPDIR/data" -A trust -U postgres \
        -E UTF8 --no-sync >"$PG_TMPDIR/initdb.log" 2>&1 \
        || { cat "$PG_TMPDIR/initdb.log" >&2; return 1; }
    "${AS_PG[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_TMPDIR/data" -l "$PG_TMPDIR/server.log" -w \
        -o "-p $THROWAWAY_PORT -k $PG_TMPDIR -c listen_addresses=$PG_HOST -c fsync=off" \
        start >/dev/null \
        || { cat "$PG_TMPDIR/server.log" >&2 2>/dev/null || true; return 1; }
}

if [[ -n "${REGISTRY_TEST_POSTGRES_URL:-}" ]]; then
    log "using REGISTRY_TEST_POSTGRES_URL from the environment"
elif [[ "${REGISTRY_TEST_FORCE_THROWAWAY_PG:-}" != 1 ]] && pg_answers "$PG_HOST" "$PG_PORT"; then
    export REGISTRY_TEST_POSTGRES_URL="postgresql+asyncpg://postgres@$PG_HOST:$PG_PORT/postgres"
    log "using the PostgreSQL on $PG_HOST:$PG_PORT"
elif PG_BINDIR=$(find_pg_bindir) && start_throwaway; then
    export REGISTRY_TEST_POSTGRES_URL="postgresql+asyncpg://postgres@$PG_HOST:$THROWAWAY_PORT/postgres"
elif [[ "${CI:-}" == true ]]; then
    log "ERROR: PostgreSQL is required under CI, but none answers on $PG_HOST:$PG_PORT" \
        "and no server binaries (initdb) could start one."
    exit 1
else
    log "WARNING: no PostgreSQL found; the PostgreSQL tests will be skipped."
    export REGISTRY_TEST_POSTGRES_URL=
fi

# The console's browser tests drive the system's Chromium (Debian's chromium and its
# driver; never a browser downloaded by Playwright). Installed here when missing and we
# may (root with apt-get); otherwise those tests skip, saying why (and fail under CI=true).
if [[ ! -x /usr/bin/chromium ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing chromium and chromium-driver for the browser tests"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq chromium chromium-driver >/dev/null; }; then
            log "WARNING: chromium could not be installed; the browser tests will skip"
        fi
    else
        log "WARNING: /usr/bin/chromium is missing and cannot be installed here (not root);" \
            "the browser tests will skip"
    fi
fi

# Not exec: the EXIT trap must still stop the throwaway cluster.
# shellcheck disable=SC2086  # PYTEST_ARGS is meant to split into words
set +e
.venv/bin/pytest -n "${REGISTRY_TEST_WORKERS:-auto}" ${PYTEST_ARGS:-} "$@"
status=$?
set -e
exit "$status"
