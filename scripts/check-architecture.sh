#!/usr/bin/env bash
# Domain crates stay pure: none may depend (normally, transitively) on tokio, sqlx, axum,
# serde_json or a database driver. Dev-dependencies are allowed: tests may use them.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for crate in money ledger lending revolving risk funding colending compliance abs vault; do
  [ -d "crates/$crate" ] || continue
  tree=$(cargo tree -p "$crate" -e normal --prefix none)
  bad=$(printf '%s\n' "$tree" | awk '{print $1}' | grep -xE 'tokio|sqlx|sqlx-core|axum|serde_json|reqwest|rusqlite' | sort -u || true)
  if [ -n "$bad" ]; then
    echo "architecture: domain crate '$crate' depends on: $bad" >&2
    status=1
  else
    echo "architecture: $crate is pure ($(printf '%s\n' "$tree" | sort -u | wc -l) crates in its tree)"
  fi
done
exit $status
