#!/usr/bin/env bash
# Installs every Debian 12 package lifeguard needs to build, test, benchmark and run its demo.
# Idempotent: packages already present are skipped, so a second run costs one dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libboost-dev libspdlog-dev libfmt-dev prometheus-cpp-dev libcli11-dev nlohmann-json3-dev
  libpq-dev libmysqlcppconn-dev libsoci-dev
  postgresql-15 postgresql-client-15 mariadb-server mariadb-client pgbouncer prometheus
  iproute2 iptables socat procps curl openssl
  libcpp-httplib-dev python3-locust python3-matplotlib chromium fonts-dejavu-core
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}) and not root; run as root or install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Servers must not start system-wide instances: our tests start throwaway ones.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}"
