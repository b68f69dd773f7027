#!/usr/bin/env bash
# Create the scoped InfluxDB 2.x tokens louyu runs with, once, with the `influx` CLI:
#
#   collector   write-only on the bucket       -> $OUT_DIR/collector/louyu_influx_token
#   reader      read-only on the bucket        -> $OUT_DIR/reader/louyu_influx_token
#               (the API's history and live seed, Grafana)
#
# The admin token (INFLUX_TOKEN) is used here only, never by a louyu service. Each file is named
# after the setting it holds: a louyu service with LOUYU_SECRETS_DIR pointing at the folder reads
# it as LOUYU_INFLUX_TOKEN (louyu/settings.py). A token already written is kept, so the script can
# run on every `docker compose up`; delete its file (and revoke the old token with
# `influx auth delete`) to make a new one.
#
# Environment: INFLUX_HOST, INFLUX_TOKEN (admin), INFLUX_ORG, LOUYU_INFLUX_DB (the bucket),
# OUT_DIR (default /tokens). The deploy/docker-compose.yml service `influxdb-tokens` runs it.
set -euo pipefail

out_dir="${OUT_DIR:-/tokens}"
bucket="${LOUYU_INFLUX_DB:?LOUYU_INFLUX_DB is not set}"
: "${INFLUX_TOKEN:?INFLUX_TOKEN (the admin token) is not set}"
: "${INFLUX_ORG:?INFLUX_ORG is not set}"

die() { echo "influxdb tokens: $*" >&2; exit 2; }

# The bucket's id: the first column of the table (a bucket name has no blanks, louyu/settings.py).
bucket_id="$(influx bucket list --org "$INFLUX_ORG" --name "$bucket" --hide-headers | awk 'NR == 1 { print $1 }')"
[ -n "$bucket_id" ] || die "no bucket $bucket in organisation $INFLUX_ORG"

# make_token NAME PERMISSION: a token with the one permission on the bucket, written once.
make_token() {
    local name="$1" permission="$2" file token
    file="$out_dir/$name/louyu_influx_token"
    if [ -s "$file" ]; then
        echo "token $name kept ($file)"
        return 0
    fi
    mkdir -p "$out_dir/$name"
    token="$(influx auth create --org "$INFLUX_ORG" "$permission" "$bucket_id" \
        --description "louyu-$name" --json | tr -d ' \n' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')"
    [ -n "$token" ] || die "influx auth create gave no token for $name"
    # Readable by the services that mount the folder (they run as other users than this one);
    # the folder is mounted into those services only.
    (umask 022 && printf '%s' "$token" >"$file.new")
    chmod 0444 "$file.new"
    mv "$file.new" "$file"
    echo "token $name created ($file)"
}

make_token collector --write-bucket
make_token reader --read-bucket
