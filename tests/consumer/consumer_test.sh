#!/usr/bin/env bash
# lifeguard as its users get it. Installs the built lifeguard into a scratch prefix, then checks:
# the installed share/lifeguard files (and that poolsize --help points at one); a core-only
# consumer that needs none of the components' dependencies, also on a prefix where only the core
# was built; a consumer of the postgres and prometheus components (serving metrics with an
# Exposer); the README's Metrics and logs CMake lines and program; the asio consumer by
# find_package and by add_subdirectory; and find_package's answers for a missing, an optional,
# an unknown and a not-built component.
set -euo pipefail
source_dir=$1 build_dir=$2 work=$3
here=$source_dir/tests/consumer
prefix=$work/prefix
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build_dir" --prefix "$prefix" > "$work/install.log"

fail() { echo "consumer: FAIL: $*" >&2; exit 1; }
# What a consumer may not need when it asks for no component.
no_component_deps=(-DCMAKE_DISABLE_FIND_PACKAGE_spdlog=ON -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON
                   -DCMAKE_DISABLE_FIND_PACKAGE_prometheus-cpp=ON -DCMAKE_DISABLE_FIND_PACKAGE_PostgreSQL=ON
                   -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON)

# build_and_run NAME PROJECT EXECUTABLE EXPECTED [CMAKE_ARGS...]: configures, builds and runs a
# consumer project; its output must contain EXPECTED.
build_and_run() {
    local name=$1 project=$2 executable=$3 expected=$4
    shift 4
    cmake -S "$here/$project" -B "$work/$name" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > "$work/$name.log" 2>&1 \
        || fail "$name: configure failed (see $work/$name.log)"
    cmake --build "$work/$name" >> "$work/$name.log" 2>&1 || fail "$name: build failed (see $work/$name.log)"
    "$work/$name/$executable" | tee "$work/$name.out"
    grep -qF -- "$expected" "$work/$name.out" || fail "$name: output lacks '$expected'"
}

# probe NAME PREFIX [CMAKE_ARGS...]: runs tests/consumer/probe (find_package(lifeguard ${PROBE_ARGS}))
# against PREFIX; leaves its output in $work/NAME.log and returns cmake's exit status.
probe() {
    local name=$1 on_prefix=$2
    shift 2
    cmake -S "$here/probe" -B "$work/$name" -G Ninja -DCMAKE_PREFIX_PATH="$on_prefix" "$@" > "$work/$name.log" 2>&1
}
# expect_in_log NAME TEXT: $work/NAME.log says TEXT (whitespace runs compared as one space, as
# CMake wraps long messages).
expect_in_log() {
    tr -s '[:space:]' ' ' < "$work/$1.log" | grep -qF -- "$2" || fail "$1: the output lacks '$2' (see $work/$1.log)"
}
# probe_fails NAME PREFIX MESSAGE [CMAKE_ARGS...]: the probe must fail, saying MESSAGE.
probe_fails() {
    local name=$1 on_prefix=$2 message=$3
    shift 3
    if probe "$name" "$on_prefix" "$@"; then fail "$name: find_package succeeded"; fi
    expect_in_log "$name" "$message"
}

# share/lifeguard: every dashboard and doc, and the place poolsize --help names.
diff -r "$source_dir/dashboards" "$prefix/share/lifeguard/dashboards" || fail "installed dashboards differ"
diff -r "$source_dir/docs" "$prefix/share/lifeguard/doc" || fail "installed docs differ"
help_doc=$("$prefix/bin/poolsize" --help | sed -n 's/^Full documentation: \([^ ]*\) under the install prefix$/\1/p')
[[ -n $help_doc && -f $prefix/$help_doc ]] || fail "poolsize --help names '$help_doc', not an installed file"
echo "consumer: share/lifeguard holds the dashboards and docs; poolsize --help points at $help_doc"

# The core alone: its exported target links only threads, and a consumer builds with every
# component dependency made unfindable.
core_links=$(sed -n 's/^ *INTERFACE_LINK_LIBRARIES "\(.*\)"$/\1/p' "$prefix/lib/cmake/lifeguard/lifeguard-targets.cmake")
[[ $core_links == "Threads::Threads" ]] || fail "lifeguard::lifeguard links '$core_links', not just Threads::Threads"
build_and_run core core core_consumer "core consumer: borrowed connection 1" \
    -DCMAKE_PREFIX_PATH="$prefix" "${no_component_deps[@]}"
probe probe-core "$prefix" "${no_component_deps[@]}" -DPROBE_ARGS=REQUIRED || fail "probe-core: find_package failed"
expect_in_log probe-core "probe: lifeguard_FOUND=1"
! grep -q "probe: target" "$work/probe-core.log" || fail "probe-core: components were loaded unasked"

# A prefix with only the core built: the core consumer works, a component is reported not built.
cmake -S "$source_dir" -B "$work/core-only-build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIFEGUARD_INSTALL=ON \
      -DLIFEGUARD_BUILD_TESTS=OFF -DLIFEGUARD_BUILD_BENCH=OFF -DLIFEGUARD_BUILD_EXAMPLES=OFF \
      -DLIFEGUARD_BUILD_TOOLS=OFF -DLIFEGUARD_WITH_ASIO=OFF -DLIFEGUARD_WITH_DIAGNOSTICS=OFF \
      -DLIFEGUARD_WITH_POSTGRES=OFF -DLIFEGUARD_WITH_MYSQL=OFF -DLIFEGUARD_WITH_PROMETHEUS=OFF \
      "${no_component_deps[@]}" > "$work/core-only-build.log" 2>&1 || fail "core-only lifeguard: configure failed"
cmake --build "$work/core-only-build" >> "$work/core-only-build.log" 2>&1 || fail "core-only lifeguard: build failed"
cmake --install "$work/core-only-build" --prefix "$work/core-prefix" >> "$work/core-only-build.log"
build_and_run core-on-core-prefix core core_consumer "core consumer: borrowed connection 1" \
    -DCMAKE_PREFIX_PATH="$work/core-prefix" "${no_component_deps[@]}"
probe_fails probe-not-built "$work/core-prefix" \
    "lifeguard: component 'mysql' is not in this installation: lifeguard was built without it (building it needs mysql-connector-cpp 1.1 (Debian package libmysqlcppconn-dev))" \
    "-DPROBE_ARGS=REQUIRED;COMPONENTS;mysql"

# Components: postgres + prometheus, linking nothing but lifeguard's targets.
build_and_run components components components_consumer "serves" -DCMAKE_PREFIX_PATH="$prefix"
probe probe-components "$prefix" "-DPROBE_ARGS=REQUIRED;COMPONENTS;postgres;prometheus" \
    || fail "probe-components: find_package failed"
for line in lifeguard_postgres_FOUND=TRUE lifeguard_prometheus_FOUND=TRUE "target lifeguard::postgres" \
            "target lifeguard::prometheus"; do
    expect_in_log probe-components "probe: $line"
done
! grep -q "probe: target lifeguard::diagnostics" "$work/probe-components.log" \
    || fail "probe-components: lifeguard::diagnostics was loaded unasked"

# The README's "Metrics and logs" CMake lines and program, as a user pastes them.
cmake -S "$here/readme" -B "$work/readme" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      -DLIFEGUARD_SOURCE_DIR="$source_dir" > "$work/readme.log" 2>&1 \
    || fail "readme: the README's CMake lines do not configure (see $work/readme.log)"
cmake --build "$work/readme" >> "$work/readme.log" 2>&1 \
    || fail "readme: the README's Metrics and logs program does not build (see $work/readme.log)"

# A missing dependency: required, it fails naming the component and the Debian package;
# optional, it leaves lifeguard found and that component not.
probe_fails probe-missing "$prefix" "lifeguard: component 'postgres' needs libpq (Debian package libpq-dev)" \
    -DCMAKE_DISABLE_FIND_PACKAGE_PostgreSQL=ON "-DPROBE_ARGS=REQUIRED;COMPONENTS;asio;postgres"
probe probe-optional "$prefix" -DCMAKE_DISABLE_FIND_PACKAGE_PostgreSQL=ON \
    "-DPROBE_ARGS=COMPONENTS;asio;OPTIONAL_COMPONENTS;postgres" || fail "probe-optional: find_package failed"
for line in lifeguard_FOUND=1 lifeguard_asio_FOUND=TRUE lifeguard_postgres_FOUND=FALSE; do
    expect_in_log probe-optional "probe: $line"
done
expect_in_log probe-optional "lifeguard: optional component 'postgres' needs libpq (Debian package libpq-dev)"

# An unknown component is named, with the list of real ones.
probe_fails probe-unknown "$prefix" \
    "lifeguard: unknown component 'postgress' (the components are: asio, diagnostics, logging, prometheus, postgres, mysql)" \
    "-DPROBE_ARGS=REQUIRED;COMPONENTS;postgress"

# The asio consumer, by find_package and by add_subdirectory.
build_and_run by-package project consumer "consumer: borrowed connection 1 asynchronously" -DCMAKE_PREFIX_PATH="$prefix"
build_and_run by-subdirectory project consumer "consumer: borrowed connection 1 asynchronously" \
    -DLIFEGUARD_SOURCE_DIR="$source_dir"
echo "consumer: share files, core-only, components, missing/optional/unknown/not-built components, find_package and add_subdirectory all work"
