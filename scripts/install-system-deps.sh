#!/usr/bin/env bash
# Installs the servers the tests run for real (Redis, PostgreSQL) and the browser they drive
# (Debian's Chromium: Playwright's own browser download cannot work here). No-op when present.
set -euo pipefail

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "error: ${missing[*]} missing; install them as root: apt-get install ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "error: ${missing[*]} missing and this is no Debian/Ubuntu machine (no apt-get)" >&2
    exit 1
fi

echo "Installing ${missing[*]} with apt-get"
# env, not export: sudo drops the caller's environment, and CI has no terminal to answer prompts.
apt_get=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
"${apt_get[@]}" update -q
"${apt_get[@]}" install -y -q "${missing[@]}"
