# Install rules and the package config: find_package(lifeguard) gives lifeguard::lifeguard and
# whichever optional targets were built (asio, diagnostics, postgres, mysql, prometheus, logging).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(lifeguard_installed_targets lifeguard)
if(TARGET lifeguard_asio)
    list(APPEND lifeguard_installed_targets lifeguard_asio)
endif()
install(TARGETS ${lifeguard_installed_targets} EXPORT lifeguard-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/lifeguard DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT lifeguard-targets NAMESPACE lifeguard:: FILE lifeguard-targets.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lifeguard)
# What the optional targets need from the consumer's side.
set(LIFEGUARD_CONFIG_DEPENDENCIES "")
if(TARGET lifeguard_diagnostics OR TARGET lifeguard_logging)
    string(APPEND LIFEGUARD_CONFIG_DEPENDENCIES "find_dependency(spdlog CONFIG)\n")
endif()
if(TARGET lifeguard_asio)
    string(APPEND LIFEGUARD_CONFIG_DEPENDENCIES "find_dependency(Boost 1.74 CONFIG)\n")
endif()
if(TARGET lifeguard_prometheus)
    string(APPEND LIFEGUARD_CONFIG_DEPENDENCIES "find_dependency(prometheus-cpp CONFIG)\n")
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/lifeguard-config.cmake.in
    ${PROJECT_BINARY_DIR}/lifeguard-config.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lifeguard)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lifeguard-config-version.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lifeguard-config.cmake ${PROJECT_BINARY_DIR}/lifeguard-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lifeguard)
