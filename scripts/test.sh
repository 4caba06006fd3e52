#!/usr/bin/env bash
# All tests: formatting, a sanitized gcc build with every ctest test except
# the slow ones, then a clang build (-Werror there too) whose libFuzzer
# targets each run briefly. MSOCK_FUZZ_SECONDS sets the fuzzing time per
# target (default 10; `make fuzz-long` style runs: set it high).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh

echo "== format"
./scripts/check-format.sh

jobs=$(nproc)
echo "== build (gcc, ASan+UBSan)"
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Debug -DMSOCK_SANITIZE=ON -DMSOCK_TEST_BUILD=ON >/dev/null
cmake --build build/test -j"$jobs"

echo "== build (gcc -O2, as scripts/demo.sh builds)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSOCK_TESTS=OFF >/dev/null
cmake --build build/release -j"$jobs"

echo "== build (clang, libFuzzer)"
CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DMSOCK_FUZZ=ON -DMSOCK_TEST_BUILD=ON >/dev/null
cmake --build build/fuzz -j"$jobs"

echo "== fuzz (${MSOCK_FUZZ_SECONDS:-10} s per target)"
./scripts/fuzz.sh "${MSOCK_FUZZ_SECONDS:-10}"

echo "== ctest"
cd build/test
ctest -LE slow --output-on-failure -j"$jobs" --timeout 600
