#!/usr/bin/env bash
# Installs the Cairn agent on this host as a systemd service.
#
#   install-agent.sh [--dry-run] [--binary PATH] [--endpoint URL] [--access-key-id ID]
#                    [--access-key-secret SECRET] [--account ID]... [--user-defined-id ID]...
#                    [--root DIR] [--no-start]
#
# What it does, in order (every step is idempotent: running it again changes nothing that is
# already right, and never overwrites a settings file):
#   1. copies the binary to /usr/local/bin/cairn (mode 0755; skipped when identical);
#   2. creates /etc/cairn (0755), /etc/cairn/users (0755) and /var/lib/cairn-agent (0700);
#   3. writes /etc/cairn/agent.toml (0600: it holds the agent credential) if it does not exist,
#      from --endpoint / --access-key-id / --access-key-secret (or CAIRN_AGENT_ENDPOINT,
#      CAIRN_AGENT_ACCESS_KEY_ID, CAIRN_AGENT_ACCESS_KEY_SECRET: keeps the secret out of `ps`),
#      with REPLACE_ME where a value is missing;
#   4. creates /etc/cairn/users/<ID> (empty) for every --account (16 digits) and appends every
#      --user-defined-id not yet in /etc/cairn/user_defined_id;
#   5. installs systemd/cairn-agent.service (beside this script) to
#      /etc/systemd/system/cairn-agent.service, reloads systemd, enables the unit, and
#      (re)starts it unless --no-start or agent.toml still contains REPLACE_ME.
#
# --dry-run prints what would be done and changes nothing (it does not need root).
# --root DIR installs under DIR instead of / (images, tests) and skips systemctl.
# Without --dry-run it refuses to run unless root (the effective uid may be overridden by
# CAIRN_INSTALL_EUID, for tests only).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UNIT_SOURCE="$SCRIPT_DIR/systemd/cairn-agent.service"

DRY_RUN=0
ROOT=""
BINARY=""
START=1
ENDPOINT="${CAIRN_AGENT_ENDPOINT:-}"
ACCESS_KEY_ID="${CAIRN_AGENT_ACCESS_KEY_ID:-}"
ACCESS_KEY_SECRET="${CAIRN_AGENT_ACCESS_KEY_SECRET:-}"
ACCOUNTS=()
USER_DEFINED_IDS=()

die() {
    echo "install-agent: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

need_value() {
    if [ $# -lt 2 ] || [ -z "$2" ]; then
        die "$1 needs a value"
    fi
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --no-start) START=0 ;;
        --binary) need_value "$@"; BINARY=$2; shift ;;
        --endpoint) need_value "$@"; ENDPOINT=$2; shift ;;
        --access-key-id) need_value "$@"; ACCESS_KEY_ID=$2; shift ;;
        --access-key-secret) need_value "$@"; ACCESS_KEY_SECRET=$2; shift ;;
        --account) need_value "$@"; ACCOUNTS+=("$2"); shift ;;
        --user-defined-id) need_value "$@"; USER_DEFINED_IDS+=("$2"); shift ;;
        --root) need_value "$@"; ROOT=${2%/}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

# --- checks, before anything is touched -------------------------------------------------------

EUID_NOW="${CAIRN_INSTALL_EUID:-$(id -u)}"
if [ "$DRY_RUN" -eq 0 ] && [ "$EUID_NOW" != "0" ]; then
    die "must run as root (or pass --dry-run to see what it would do)"
fi

if [ -z "$BINARY" ]; then
    BINARY=$(command -v cairn || true)
    [ -n "$BINARY" ] || die "no cairn binary on PATH: pass --binary PATH"
fi
[ -f "$BINARY" ] || die "binary not found: $BINARY"
[ -f "$UNIT_SOURCE" ] || die "unit file not found: $UNIT_SOURCE"

for account in "${ACCOUNTS[@]+"${ACCOUNTS[@]}"}"; do
    [[ "$account" =~ ^[1-9][0-9]{15}$ ]] || die "not a 16-digit account id: $account"
done
for id in "${USER_DEFINED_IDS[@]+"${USER_DEFINED_IDS[@]}"}"; do
    [[ "$id" != *$'\n'* && -n "${id// /}" ]] || die "invalid user-defined id: '$id'"
done
for value in "$ENDPOINT" "$ACCESS_KEY_ID" "$ACCESS_KEY_SECRET"; do
    if [[ "$value" == *'"'* || "$value" == *\\* || "$value" == *$'\n'* ]]; then
        die "settings values must not contain quotes, backslashes or newlines"
    fi
done
if [ -n "$ENDPOINT" ] && [[ "$ENDPOINT" != http://* ]]; then
    die "the endpoint must be http://host:port"
fi

BIN_PATH="$ROOT/usr/local/bin/cairn"
CONFIG_DIR="$ROOT/etc/cairn"
SETTINGS="$CONFIG_DIR/agent.toml"
USERS_DIR="$CONFIG_DIR/users"
USER_DEFINED_ID_FILE="$CONFIG_DIR/user_defined_id"
DATA_DIR="$ROOT/var/lib/cairn-agent"
UNIT_PATH="$ROOT/etc/systemd/system/cairn-agent.service"

# --- helpers ----------------------------------------------------------------------------------

# Runs a command, or prints it under --dry-run.
act() {
    if [ "$DRY_RUN" -eq 1 ]; then
        echo "would run: $*"
    else
        echo "run: $*"
        "$@"
    fi
}

# Tells that a step has nothing to do.
keep() {
    echo "unchanged: $*"
}

# Writes stdin to a file with a mode (atomically), or prints what would be written.
write_file() {
    local path=$1 mode=$2
    if [ "$DRY_RUN" -eq 1 ]; then
        echo "would write: $path (mode $mode)"
        cat >/dev/null
    else
        echo "write: $path (mode $mode)"
        local tmp
        tmp=$(mktemp "$path.XXXXXX")
        cat >"$tmp"
        chmod "$mode" "$tmp"
        mv -f "$tmp" "$path"
    fi
}

ensure_dir() {
    local path=$1 mode=$2
    if [ -d "$path" ]; then
        keep "directory $path"
    else
        act install -d -m "$mode" "$path"
    fi
}

# Installs a file when the target is missing or differs.
ensure_copy() {
    local source=$1 target=$2 mode=$3
    if [ -f "$target" ] && cmp -s "$source" "$target"; then
        keep "$target"
    else
        act install -D -m "$mode" "$source" "$target"
    fi
}

settings_template() {
    cat <<EOF
# Cairn agent settings. Identity files live beside this file: users/<account-id> (one empty
# file per account allowed to collect from this host) and user_defined_id (one identifier per
# line); both are re-read every heartbeat.
endpoint = "${ENDPOINT:-http://REPLACE_ME:7480}"
access_key_id = "${ACCESS_KEY_ID:-REPLACE_ME}"
access_key_secret = "${ACCESS_KEY_SECRET:-REPLACE_ME}"
config_dir = "/etc/cairn"
data_dir = "/var/lib/cairn-agent"
heartbeat_interval_secs = 10

[tags]
EOF
}

# --- the steps --------------------------------------------------------------------------------

if [ "$DRY_RUN" -eq 1 ]; then
    echo "dry run: nothing will be changed"
fi

ensure_copy "$BINARY" "$BIN_PATH" 0755

ensure_dir "$CONFIG_DIR" 0755
ensure_dir "$USERS_DIR" 0755
ensure_dir "$DATA_DIR" 0700

if [ -f "$SETTINGS" ]; then
    keep "$SETTINGS (kept as it is)"
else
    settings_template | write_file "$SETTINGS" 0600
fi

for account in "${ACCOUNTS[@]+"${ACCOUNTS[@]}"}"; do
    if [ -f "$USERS_DIR/$account" ]; then
        keep "$USERS_DIR/$account"
    else
        act touch "$USERS_DIR/$account"
    fi
done

for id in "${USER_DEFINED_IDS[@]+"${USER_DEFINED_IDS[@]}"}"; do
    if [ -f "$USER_DEFINED_ID_FILE" ] && grep -qxF -- "$id" "$USER_DEFINED_ID_FILE"; then
        keep "user-defined id $id"
    elif [ "$DRY_RUN" -eq 1 ]; then
        echo "would append: $id >> $USER_DEFINED_ID_FILE"
    else
        echo "append: $id >> $USER_DEFINED_ID_FILE"
        printf '%s\n' "$id" >>"$USER_DEFINED_ID_FILE"
    fi
done

ensure_copy "$UNIT_SOURCE" "$UNIT_PATH" 0644

if [ -n "$ROOT" ]; then
    echo "skipped: systemctl (installing under --root $ROOT)"
    exit 0
fi

if ! command -v systemctl >/dev/null 2>&1; then
    if [ "$DRY_RUN" -eq 1 ]; then
        echo "note: systemctl not found; a real run would stop here"
        exit 0
    fi
    die "systemd not found: run the agent in the foreground instead: $BIN_PATH agent --config $SETTINGS"
fi

act systemctl daemon-reload
act systemctl enable cairn-agent.service

complete=1
if [ -f "$SETTINGS" ]; then
    if grep -q REPLACE_ME "$SETTINGS"; then
        complete=0
    fi
elif [ -z "$ENDPOINT" ] || [ -z "$ACCESS_KEY_ID" ] || [ -z "$ACCESS_KEY_SECRET" ]; then
    complete=0
fi

if [ "$START" -eq 0 ]; then
    echo "not started (--no-start): systemctl start cairn-agent"
elif [ "$complete" -eq 0 ]; then
    echo "not started: edit $SETTINGS (REPLACE_ME values), then: systemctl start cairn-agent"
else
    act systemctl restart cairn-agent.service
fi
