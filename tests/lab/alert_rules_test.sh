#!/usr/bin/env bash
# The shipped alert rules (dashboards/alerts) pass Prometheus' own checks: `promtool check
# rules` (syntax, PromQL, templates) and `promtool test rules` (each alert fires exactly when
# lifeguard.rules.test.yml says, with the labels and annotations it says).
set -euo pipefail
alerts="$(cd "$(dirname "$0")/../../dashboards/alerts" && pwd)"
command -v promtool >/dev/null || { echo "promtool is not installed (Debian package prometheus)" >&2; exit 1; }
promtool check rules "$alerts/lifeguard.rules.yml"
cd "$alerts"
promtool test rules lifeguard.rules.test.yml
