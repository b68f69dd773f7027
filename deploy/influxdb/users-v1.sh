#!/usr/bin/env bash
# InfluxDB 1.x with `auth-enabled = true`: the database and the two users louyu runs with.
#
#   louyu_collector   GRANT WRITE on the database: the collector (writes, cannot read or drop)
#   louyu_reader      GRANT READ on the database: the API's history and Grafana (cannot write,
#                     drop or delete)
#
# Run once by an administrator, again to change a password (it is set anew each time):
#
#   INFLUX_ADMIN_USER=admin INFLUX_ADMIN_PASSWORD=... \
#   LOUYU_COLLECTOR_INFLUX_PASSWORD=... LOUYU_READER_INFLUX_PASSWORD=... \
#       deploy/influxdb/users-v1.sh [http://127.0.0.1:8086]
#
# Optional: LOUYU_INFLUX_DB (louyu), LOUYU_COLLECTOR_INFLUX_USER (louyu_collector),
# LOUYU_READER_INFLUX_USER (louyu_reader). The services then run with LOUYU_INFLUX_USERNAME and
# LOUYU_INFLUX_PASSWORD of their user (docs/influxdb.md). No password is put on a command line:
# curl reads the credentials and the statements from files only this user can read.
set -euo pipefail

url="${1:-http://127.0.0.1:8086}"
db="${LOUYU_INFLUX_DB:-louyu}"
writer="${LOUYU_COLLECTOR_INFLUX_USER:-louyu_collector}"
reader="${LOUYU_READER_INFLUX_USER:-louyu_reader}"
: "${INFLUX_ADMIN_USER:?INFLUX_ADMIN_USER is not set}"
: "${INFLUX_ADMIN_PASSWORD:?INFLUX_ADMIN_PASSWORD is not set}"
: "${LOUYU_COLLECTOR_INFLUX_PASSWORD:?LOUYU_COLLECTOR_INFLUX_PASSWORD is not set}"
: "${LOUYU_READER_INFLUX_PASSWORD:?LOUYU_READER_INFLUX_PASSWORD is not set}"

die() { echo "users-v1.sh: $*" >&2; exit 2; }
command -v curl >/dev/null || die "curl not found"

work="$(umask 077 && mktemp -d)"
trap 'rm -rf "$work"' EXIT

# InfluxQL string and identifier literals: backslash and the quote escaped.
string() { local s="${1//\\/\\\\}"; printf "'%s'" "${s//\'/\\\'}"; }
ident() { local s="${1//\\/\\\\}"; printf '"%s"' "${s//\"/\\\"}"; }

printf 'user = %s\n' "$(ident "$INFLUX_ADMIN_USER:$INFLUX_ADMIN_PASSWORD")" >"$work/curl.conf"

# query STATEMENT: run it as the administrator; prints InfluxDB's answer.
query() {
    printf '%s' "$1" >"$work/q"
    curl -sS -K "$work/curl.conf" --data-urlencode "q@$work/q" "$url/query"
}

# run STATEMENT: run it, fail on an error.
run() {
    local answer
    answer="$(query "$1")"
    case "$answer" in
    *'"error"'*) die "$(printf '%s' "$answer" | sed 's/.*"error":"\([^"]*\)".*/\1/')" ;;
    esac
}

# user NAME PASSWORD PRIVILEGE: create the user, or set its password, and grant PRIVILEGE alone.
user() {
    local answer
    answer="$(query "CREATE USER $(ident "$1") WITH PASSWORD $(string "$2")")"
    case "$answer" in
    *'already exists'*) run "SET PASSWORD FOR $(ident "$1") = $(string "$2")" ;;
    *'"error"'*) die "creating $1: $answer" ;;
    esac
    run "REVOKE ALL PRIVILEGES ON $(ident "$db") FROM $(ident "$1")"
    run "GRANT $3 ON $(ident "$db") TO $(ident "$1")"
    echo "user $1: $3 on $db"
}

run "CREATE DATABASE $(ident "$db")"
user "$writer" "$LOUYU_COLLECTOR_INFLUX_PASSWORD" WRITE
user "$reader" "$LOUYU_READER_INFLUX_PASSWORD" READ
