#!/usr/bin/env bash
# Create the broker accounts: the password file (hashed by mosquitto_passwd) and the ACL blocks.
# No password is kept in the repository; passwords go to mosquitto_passwd on its standard input,
# never on a command line where `ps` would show them. One account per connection: the broker uses
# the account name as client id (use_username_as_clientid), so a second connection of an account
# replaces the first; give every service instance, gateway and handset its own account.
#
#   accounts.sh services ENV_FILE   louyu-collector-1, louyu-collector-2, louyu-rules,
#                                   louyu-notifier, louyu-api with the passwords
#                                   LOUYU_{COLLECTOR,COLLECTOR_2,RULES,NOTIFIER,API}_MQTT_PASSWORD
#                                   of ENV_FILE
#   accounts.sh service ROLE ACCOUNT
#                                   one more instance of a service (ROLE: collector, rules,
#                                   notifier, api; ACCOUNT: louyu-ROLE-NAME), with the topics of
#                                   the role's first account; prints its new password once
#   accounts.sh sensor BUILDING [GATEWAY]
#                                   account sensor-BUILDING (sensor-BUILDING.GATEWAY for another
#                                   gateway of the building), may write louyu/BUILDING/# only;
#                                   prints its new password once
#   accounts.sh patrol RECEIVER [HANDSET]
#                                   account patrol-RECEIVER (patrol-RECEIVER.HANDSET for another
#                                   handset), may read louyu/notify/RECEIVER and louyu/alerts/#;
#                                   prints its new password once
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

# template_lines ACCOUNT: the topic lines of ACCOUNT's ACL block.
template_lines() {
    awk -v u="user $1" '
        $0 == u { inside = 1; next }
        inside && /^topic / { print; next }
        { inside = 0 }
    ' "$acl_file"
}

# The first account of each service role, whose ACL block further instances copy.
role_account() {
    case "$1" in
    collector) echo louyu-collector-1 ;;
    rules | notifier | api) echo "louyu-$1" ;;
    *) return 1 ;;
    esac
}

# instance_account KIND NAME [INSTANCE]: KIND-NAME, or KIND-NAME.INSTANCE for a further gateway
# or handset (a dot cannot occur in NAME, so no two buildings or receivers share an account name).
instance_account() {
    if [ -z "$3" ]; then
        echo "$1-$2"
    elif [[ "$3" =~ ^[a-z0-9][a-z0-9_-]{0,31}$ ]]; then
        echo "$1-$2.$3"
    else
        return 1
    fi
}

has_block() {
    grep -Fqx "user $1" "$acl_file"
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
    for svc in collector collector_2 rules notifier api; do
        key="LOUYU_${svc^^}_MQTT_PASSWORD"
        value="$(env_value "$env_file" "$key")"
        [ -n "$value" ] || die "$key is not set in $env_file"
        if [ "$svc" = collector_2 ]; then
            account=louyu-collector-2 # the compose file's second collector (profile scale-out)
        else
            account="$(role_account "$svc")"
        fi
        set_password "$account" "$value"
        echo "account $account set"
    done
    ;;
service)
    role="${2:-}"
    account="${3:-}"
    template="$(role_account "$role")" || die "usage: accounts.sh service collector|rules|notifier|api ACCOUNT"
    [[ "$account" =~ ^louyu-$role-[a-z0-9][a-z0-9_-]{0,40}$ ]] || die "the account of a $role instance is named louyu-$role-NAME"
    [ "$account" != "$template" ] || die "$account is the role's first account: use accounts.sh services"
    lines="$(template_lines "$template")"
    [ -n "$lines" ] || die "no ACL block for $template in $acl_file"
    ensure_passwd_file
    password="$(new_password)"
    set_password "$account" "$password"
    mapfile -t topic_lines <<<"$lines"
    add_block "$account" "${topic_lines[@]}"
    echo "$account $password"
    ;;
sensor)
    building="${2:-}"
    valid_name "$building" || die "usage: accounts.sh sensor BUILDING [GATEWAY] (a building id of the registry)"
    account="$(instance_account sensor "$building" "${3:-}")" || die "usage: accounts.sh sensor BUILDING [GATEWAY]"
    ensure_passwd_file
    password="$(new_password)"
    set_password "$account" "$password"
    add_block "$account" "topic write louyu/$building/#"
    echo "$account $password"
    ;;
patrol)
    receiver="${2:-}"
    valid_name "$receiver" || die "usage: accounts.sh patrol RECEIVER [HANDSET]"
    account="$(instance_account patrol "$receiver" "${3:-}")" || die "usage: accounts.sh patrol RECEIVER [HANDSET]"
    ensure_passwd_file
    password="$(new_password)"
    set_password "$account" "$password"
    add_block "$account" "topic read louyu/notify/$receiver" "topic read louyu/alerts/#"
    echo "$account $password"
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
    sed -n "2,26p" "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
