#!/usr/bin/env bash
# Installs the Debian bookworm packages fmserve builds and tests with, when any is missing (needs root).
set -euo pipefail
packages=(build-essential cmake ninja-build ccache pkg-config
          nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libsqlite3-dev libssl-dev
          libboost-dev libyaml-cpp-dev libstb-dev libwebp-dev libcurl4-openssl-dev
          libicu-dev clang libclang-rt-14-dev libjq-dev jq)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Python's jinja2 is the chat-template reference.
python3 -c 'import jinja2' 2>/dev/null || missing+=(python3-jinja2)
# Node.js runs the black-box reference tests; any recent version will do (Debian's, or one already installed).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
