#!/usr/bin/env bash
# Create the broker accounts: the password file (hashed by mosquitto_passwd) and the ACL blocks.
# No password is kept in the repository; passwords go to mosquitto_passwd on its standard input,
# never on a command line where `ps` would show them.
#
#   accounts.sh services ENV_FILE   louyu-collector, -rules, -notifier, -api with the passwords
#                                   LOUYU_{COLLECTOR,RULES,NOTIFIER,API}_MQTT_PASSWORD of ENV_FILE
#   accounts.sh sensor BUILDING     account sensor-BUILDING, may write louyu/BUILDING/# only;
#                                   prints its new password once
#   accounts.sh patrol RECEIVER     account patrol-RECEIVER, may read louyu/notify/RECEIVER and
#                                   louyu/alerts/#; prints its new password once
#   accounts.sh remove USER         delete the account and its ACL block
#
# Files: $MOSQUITTO_CONFIG_DIR/passwd and $MOSQUITTO_CONFIG_DIR/acl (default: this folder).
# Send SIGHUP to mosquitto (docker compose kill -s HUP mosquitto) to reload both.
set -euo pipefail

dir="${MOSQUITTO_CONFIG_DIR:-$(cd "$(dirname "$0")" && pwd)}"
passwd_file="$dir/passwd"
acl_file="$dir/acl"
# The group of the mosquitto user in the eclipse-mosquitto image (1883): it must read the password
# file. Set MOSQUITTO_GID to the local mosquitto group for a broker installed on the host.
broker_gid="${MOSQUITTO_GID:-1883}"

die() { echo "accounts.sh: $*" >&2; exit 2; }

command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd not found (Debian package mosquitto)"
[ -f "$acl_file" ] || die "no ACL at $acl_file"

ensure_passwd_file() {
    if [ ! -f "$passwd_file" ]; then
        (umask 027 && : >"$passwd_file")
    fi
    chmod 0640 "$passwd_file"
    if [ "$(id -u)" = 0 ]; then
        chgrp "$broker_gid" "$passwd_file"
    fi
}

# set_password USER PASSWORD: add or update one account.
set_password() {
    printf '%s\n%s\n' "$2" "$2" | mosquitto_passwd "$passwd_file" "$1" >/dev/null
}

new_password() {
    head -c 24 /dev/urandom | base64 | tr -d '/+=\n' | head -c 32
}

valid_name() {
    # contract section 1: [a-z0-9][a-z0-9_-]{0,63}; `alerts` and `notify` are reserved.
    [[ "$1" =~ ^[a-z0-9][a-z0-9_-]{0,63}$ ]] && [ "$1" != alerts ] && [ "$1" != notify ]
}

has_block() {
    grep -qx "user $1" "$acl_file"
}

# add_block USER LINE...: append an ACL block unless the account already has one.
add_block() {
    local user="$1"
    shift
    has_block "$user" && return 0
    {
        printf '\nuser %s\n' "$user"
        printf '%s\n' "$@"
    } >>"$acl_file"
}

remove_block() {
    local tmp
    tmp="$(mktemp "$acl_file.XXXXXX")"
    # A block is its `user` line and the `topic` lines under it, up to the next blank line.
    awk -v u="user $1" '
        $0 == u { skip = 1; next }
        skip && /^topic / { next }
        { skip = 0; print }
    ' "$acl_file" | cat -s >"$tmp"
    chmod --reference="$acl_file" "$tmp"
    mv "$tmp" "$acl_file"
}

env_value() {
    # KEY=VALUE lines of a compose .env file; surrounding quotes stripped.
    local line
    line="$(grep -E "^$2=" "$1" | tail -n 1 || true)"
    line="${line#*=}"
    line="${line%\"}"
    line="${line#\"}"
    line="${line%\'}"
    line="${line#\'}"
    printf '%s' "$line"
}

cmd="${1:-}"
case "$cmd" in
services)
    env_file="${2:-}"
    [ -f "$env_file" ] || die "usage: accounts.sh services ENV_FILE"
    ensure_passwd_file
    for svc in collector rules notifier api; do
        key="LOUYU_${svc^^}_MQTT_PASSWORD"
        value="$(env_value "$env_file" "$key")"
        [ -n "$value" ] || die "$key is not set in $env_file"
        set_password "louyu-$svc" "$value"
        echo "account louyu-$svc set"
    done
    ;;
sensor)
    building="${2:-}"
    valid_name "$building" || die "usage: accounts.sh sensor BUILDING (a building id of the registry)"
    ensure_passwd_file
    password="$(new_password)"
    set_password "sensor-$building" "$password"
    add_block "sensor-$building" "topic write louyu/$building/#"
    echo "sensor-$building $password"
    ;;
patrol)
    receiver="${2:-}"
    valid_name "$receiver" || die "usage: accounts.sh patrol RECEIVER"
    ensure_passwd_file
    password="$(new_password)"
    set_password "patrol-$receiver" "$password"
    add_block "patrol-$receiver" "topic read louyu/notify/$receiver" "topic read louyu/alerts/#"
    echo "patrol-$receiver $password"
    ;;
remove)
    user="${2:-}"
    [ -n "$user" ] || die "usage: accounts.sh remove USER"
    if [ -f "$passwd_file" ]; then
        mosquitto_passwd -D "$passwd_file" "$user" >/dev/null
    fi
    remove_block "$user"
    echo "account $user removed"
    ;;
*)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
