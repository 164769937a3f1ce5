#!/usr/bin/env bash
# Posts Alertmanager webhook payloads to a running pagerduty-publisher, as Alertmanager would.
#
#   examples/post-webhook.sh [-u URL] [-t TOKEN_FILE] [PAYLOAD.json ...]
#
#   -u URL         webhook endpoint (default: $PUBLISHER_URL or http://127.0.0.1:9095/v1/alertmanager)
#   -t TOKEN_FILE  file holding the receiver's bearer token, when the daemon runs with --auth-token-file
#                  (default: $PUBLISHER_TOKEN_FILE). The token is passed to curl on standard input, never on
#                  its command line.
#   PAYLOAD.json   default: examples/webhooks/firing.json then examples/webhooks/resolved.json
#
# Prints one line per payload with the HTTP status and the daemon's answer; exits 1 if any answer is not 202.
# Try it against `scripts/serve --dry-run`: the daemon logs each event instead of sending it.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
url="${PUBLISHER_URL:-http://127.0.0.1:9095/v1/alertmanager}"
token_file="${PUBLISHER_TOKEN_FILE:-}"

while getopts "u:t:h" option; do
    case "$option" in
        u) url="$OPTARG" ;;
        t) token_file="$OPTARG" ;;
        h) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [-u URL] [-t TOKEN_FILE] [PAYLOAD.json ...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- "$here/webhooks/firing.json" "$here/webhooks/resolved.json"

if [ -n "$token_file" ] && [ ! -r "$token_file" ]; then
    echo "post-webhook: cannot read the token file $token_file" >&2
    exit 2
fi

failures=0
for payload in "$@"; do
    answer="$(mktemp)"
    if [ -n "$token_file" ]; then
        # The header comes from standard input, so the token is not visible in the process list.
        status="$(printf 'Authorization: Bearer %s\n' "$(tr -d '[:space:]' < "$token_file")" |
            curl --silent --show-error --max-time 10 --output "$answer" --write-out '%{http_code}' \
                --header @- --header 'Content-Type: application/json' \
                --data-binary "@$payload" "$url")" || status="000"
    else
        status="$(curl --silent --show-error --max-time 10 --output "$answer" --write-out '%{http_code}' \
            --header 'Content-Type: application/json' --data-binary "@$payload" "$url")" || status="000"
    fi
    echo "$status $(basename "$payload") $(tr -d '\n' < "$answer")"
    rm -f "$answer"
    [ "$status" = "202" ] || failures=$((failures + 1))
done
[ "$failures" -eq 0 ]
