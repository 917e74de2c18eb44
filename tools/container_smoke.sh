#!/usr/bin/env bash
# Build the Dockerfile, run the image on the embedded demo ILS and check that it serves: /healthz,
# /readyz, the Japanese login page, a demo patron's login, the unprivileged user and the image's own
# HEALTHCHECK command. Run it by hand after changing the Dockerfile or the requirements; the test
# suite and CI never run it.
#
#   tools/container_smoke.sh                     # docker
#   CONTAINER=podman tools/container_smoke.sh    # podman
#   IMAGE=shiori:smoke (the tag built), BUILD_OPTS="..." (more options for the build)
#
# First run on a machine without Docker Hub access, with podman and a local stand-in for
# python:3.11-slim (Debian bookworm's python3 is 3.11), which the build then finds locally:
#   debootstrap --variant=minbase bookworm /tmp/base http://deb.debian.org/debian
#   chroot /tmp/base apt-get install -y --no-install-recommends python3 python3-pip python3-venv ca-certificates
#   ln -s /usr/bin/python3 /tmp/base/usr/local/bin/python; ln -s /usr/bin/pip3 /tmp/base/usr/local/bin/pip
#   rm /tmp/base/usr/lib/python3.11/EXTERNALLY-MANAGED    # the official image has no such marker
#   tar -C /tmp/base -c . | podman import --change 'CMD ["python3"]' - docker.io/library/python:3.11-slim
# and, behind a TLS-intercepting proxy, the host's CA bundle for pip during the build:
#   BUILD_OPTS="-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro"
set -euo pipefail

CONTAINER=${CONTAINER:-docker}
IMAGE=${IMAGE:-shiori:smoke}
NAME=shiori-smoke-$$
cd "$(dirname "$0")/.."

build_opts=${BUILD_OPTS:-}
if [ "$CONTAINER" = podman ]; then
    build_opts="--format docker $build_opts"  # podman's default OCI format drops the HEALTHCHECK
fi
# shellcheck disable=SC2086  # the options are split on purpose
"$CONTAINER" build $build_opts -t "$IMAGE" .

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
jar=$(mktemp)
trap 'rm -f "$jar"; "$CONTAINER" rm -f "$NAME" >/dev/null 2>&1 || true' EXIT

"$CONTAINER" run -d --name "$NAME" -p "127.0.0.1:$port:8000" -e PORTAL_ADAPTER=demo \
    -e PORTAL_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" "$IMAGE" >/dev/null

fail() { echo "FAIL: $*" >&2; "$CONTAINER" logs "$NAME" 2>&1 | tail -30 >&2; exit 1; }
status() { curl -s -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" "$@"; }

for _ in $(seq 60); do
    [ "$(status "$base/healthz")" = 200 ] && break
    sleep 1
done
for path in /healthz /readyz /login; do
    code=$(status "$base$path")
    [ "$code" = 200 ] || fail "GET $path: $code"
    echo "ok   GET $path: $code"
done
login=$(curl -s -b "$jar" -c "$jar" "$base/login")
grep -q 'ログイン' <<<"$login" || fail "/login is not the Japanese login page"
echo "ok   /login: $(grep -o '<title>[^<]*</title>' <<<"$login")"

read -r card password < <("$CONTAINER" exec "$NAME" flask --app app demo patrons | awk '$3 == "regular" {print $1, $2}') \
    || fail "no regular patron in 'flask --app app demo patrons'"
token=$(grep -o 'name="csrf_token" type="hidden" value="[^"]*"' <<<"$login" | head -1 | sed 's/.*value="//; s/"$//')
code=$(status --data-urlencode "csrf_token=$token" --data-urlencode "card_number=$card" \
    --data-urlencode "password=$password" "$base/login")
[ "$code" = 302 ] || fail "POST /login as $card: $code (expected a redirect)"
menu=$(curl -s -b "$jar" -c "$jar" "$base/")
grep -q 'さん、こんにちは' <<<"$menu" || fail "GET / after the login shows no greeting"
echo "ok   login as demo card $card: $(grep -o '[^>]*さん、こんにちは' <<<"$menu" | head -1)"

[ "$("$CONTAINER" exec "$NAME" id -u)" != 0 ] || fail "the portal runs as root"
echo "ok   runs as $("$CONTAINER" exec "$NAME" id)"
check=$("$CONTAINER" inspect --format '{{index .Config.Healthcheck.Test 1}}' "$NAME")
"$CONTAINER" exec "$NAME" sh -c "$check" || fail "HEALTHCHECK command failed: $check"
echo "ok   HEALTHCHECK command: $check"
echo "image $IMAGE: all checks passed"
