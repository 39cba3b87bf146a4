#!/usr/bin/env bash
# Tools the tests need beyond the venv: Debian's chromium for the browser test, redis-server for
# the cluster test (tests/e2e/test_cluster.py; scripts/airflow_cluster.py also installs it when missing).
# Installs it when missing and we may (root + apt); otherwise says what is missing.
set -u
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the browser test (apt-get)..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
      || echo "WARNING: could not install chromium; the browser test will fail"
  else
    echo "WARNING: /usr/bin/chromium missing and cannot install it; the browser test will fail"
  fi
fi
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing redis-server for the cluster test (apt-get)..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
      || echo "WARNING: could not install redis-server; the cluster test will fail"
  else
    echo "WARNING: redis-server missing and cannot install it; the cluster test will fail"
  fi
fi
exit 0
