# Sourced by the other scripts: installs the Debian packages the daemon and its tests need, when missing.
# libcurl4-openssl-dev: the Events API client's HTTP transport. libsqlite3-dev: the outbox store.
# prometheus-alertmanager: the end-to-end test drives a real Alertmanager. chromium: the status page is tested in a
# headless browser. openssl and curl: the web configuration tests make certificates and speak TLS with them.

pagerduty_publisher_packages() {
    local wanted=("$@")
    local missing=()
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "Installing system packages: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
