#!/bin/sh
# Posts one change event to a running pagerduty-publisher.
#
# usage: change-event.sh SUMMARY [SOURCE] [LINK_URL]
#
# Environment:
#   PAGERDUTY_PUBLISHER_URL         the daemon, default http://localhost:9095
#   PAGERDUTY_PUBLISHER_ROUTE       a named route (optional; the default route otherwise)
#   PAGERDUTY_PUBLISHER_AUTH_TOKEN  the receiver's bearer token, when the daemon requires one
#
# Exits non-zero, printing the daemon's answer, when the change event was not accepted.
set -eu

if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "usage: $0 SUMMARY [SOURCE] [LINK_URL]" >&2
    exit 2
fi

# Escapes a value for a JSON string: backslashes, double quotes, tabs and newlines; other control
# characters are dropped.
tab=$(printf '\t')
json_string() {
    printf '%s' "$1" | tr -d '\001-\010\013-\037' \
        | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e "s/$tab/\\\\t/g" \
        | awk 'BEGIN { ORS = "" } NR > 1 { print "\\n" } { print }'
}

summary=$(json_string "$1")
body="{\"summary\":\"$summary\",\"timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\""
if [ $# -ge 2 ] && [ -n "$2" ]; then
    body="$body,\"source\":\"$(json_string "$2")\""
fi
if [ $# -ge 3 ] && [ -n "$3" ]; then
    body="$body,\"links\":[{\"href\":\"$(json_string "$3")\",\"text\":\"Details\"}]"
fi
body="$body}"

url="${PAGERDUTY_PUBLISHER_URL:-http://localhost:9095}/v1/change-events"
if [ -n "${PAGERDUTY_PUBLISHER_ROUTE:-}" ]; then
    url="$url/$PAGERDUTY_PUBLISHER_ROUTE"
fi

if [ -n "${PAGERDUTY_PUBLISHER_AUTH_TOKEN:-}" ]; then
    # The header goes through a here-document on stdin, so the token never shows in the process list.
    curl --fail-with-body -sS --max-time 10 -X POST "$url" \
        -H 'Content-Type: application/json' \
        -H @- \
        --data-binary "$body" <<EOF
Authorization: Bearer $PAGERDUTY_PUBLISHER_AUTH_TOKEN
EOF
else
    curl --fail-with-body -sS --max-time 10 -X POST "$url" \
        -H 'Content-Type: application/json' \
        --data-binary "$body"
fi
echo
