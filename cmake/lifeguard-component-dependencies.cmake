# What each optional lifeguard component needs from outside lifeguard, and how the package
# config finds it. Installed beside lifeguard-config.cmake; LifeguardInstall.cmake reads the
# component list from here too, so the build and the package config name the same components.

set(lifeguard_known_components asio diagnostics logging prometheus postgres mysql)

# What to install for each component, as its messages say it.
set(_lifeguard_asio_needs "Boost headers 1.74 or later (Debian package libboost-dev)")
set(_lifeguard_diagnostics_needs "spdlog 1.10 or later (Debian package libspdlog-dev)")
set(_lifeguard_logging_needs "${_lifeguard_diagnostics_needs}")
set(_lifeguard_prometheus_needs "prometheus-cpp with its pull component (Debian package libprometheus-cpp-dev)")
set(_lifeguard_postgres_needs "libpq (Debian package libpq-dev)")
set(_lifeguard_mysql_needs "mysql-connector-cpp 1.1 (Debian package libmysqlcppconn-dev)")

# Sets `found` to TRUE when every one of the imported targets in ARGN exists.
function(_lifeguard_targets_exist found)
    set(all TRUE)
    foreach(target IN LISTS ARGN)
        if(NOT TARGET ${target})
            set(all FALSE)
        endif()
    endforeach()
    set(${found} ${all} PARENT_SCOPE)
endfunction()

# Finds what `component` needs from outside lifeguard (only that); sets `found` to TRUE or FALSE.
# The imported targets it finds stay visible to the caller's directory.
function(_lifeguard_find_component_dependencies component found)
    if(component STREQUAL "asio")
        find_package(Boost 1.74 CONFIG QUIET)
        _lifeguard_targets_exist(ok Boost::headers)
    elseif(component STREQUAL "diagnostics" OR component STREQUAL "logging")
        find_package(spdlog 1.10 CONFIG QUIET)
        _lifeguard_targets_exist(ok spdlog::spdlog)
    elseif(component STREQUAL "prometheus")
        find_package(prometheus-cpp CONFIG QUIET)  # Debian's 1.0.1 ships no version file
        _lifeguard_targets_exist(ok prometheus-cpp::core prometheus-cpp::pull)
    elseif(component STREQUAL "postgres")
        # The installed library links plain -lpq; FindPostgreSQL says whether libpq is there.
        find_package(PostgreSQL QUIET)
        set(ok ${PostgreSQL_FOUND})
    elseif(component STREQUAL "mysql")
        # The installed library links plain -lmysqlcppconn and threads (found for the core).
        find_library(LIFEGUARD_MYSQLCPPCONN_LIBRARY mysqlcppconn)
        if(LIFEGUARD_MYSQLCPPCONN_LIBRARY)
            set(ok TRUE)
        else()
            set(ok FALSE)
        endif()
    else()
        message(FATAL_ERROR "lifeguard: no dependency rule for component '${component}'")
    endif()
    set(${found} ${ok} PARENT_SCOPE)
endfunction()
