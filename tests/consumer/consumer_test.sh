#!/usr/bin/env bash
# Installs the built lifeguard into a scratch prefix, then builds and runs tests/consumer/project
# against it with find_package, and again against the source tree with add_subdirectory.
set -euo pipefail
source_dir=$1 build_dir=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$source_dir/tests/consumer/project" -B "$work/by-package" -G Ninja \
      -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release > "$work/by-package.log"
cmake --build "$work/by-package" >> "$work/by-package.log"
"$work/by-package/consumer" | tee "$work/by-package.out"
grep -q "consumer: borrowed connection 1" "$work/by-package.out"
grep -q "consumer: borrowed connection 1 asynchronously" "$work/by-package.out"
cmake -S "$source_dir/tests/consumer/project" -B "$work/by-subdirectory" -G Ninja \
      -DLIFEGUARD_SOURCE_DIR="$source_dir" -DCMAKE_BUILD_TYPE=Release > "$work/by-subdirectory.log"
cmake --build "$work/by-subdirectory" >> "$work/by-subdirectory.log"
"$work/by-subdirectory/consumer" | tee "$work/by-subdirectory.out"
grep -q "consumer: borrowed connection 1" "$work/by-subdirectory.out"
grep -q "consumer: borrowed connection 1 asynchronously" "$work/by-subdirectory.out"
echo "consumer: find_package and add_subdirectory both work"
