#!/usr/bin/env bash
# Fails when a C file is not formatted with the repo's .clang-format.
set -Eeuo pipefail
trap 'echo "check-format.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "check-format.sh: no clang-format (scripts/deps.sh installs it)" >&2
  exit 1
fi
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not clang-formatted: $f (run: clang-format -i $f)" >&2
    bad=$((bad + 1))
  fi
done < <(git ls-files -co --exclude-standard -- '*.c' '*.h')
if [ "$bad" -ne 0 ]; then
  echo "check-format.sh: $bad file(s) not clang-formatted" >&2
  exit 1
fi
