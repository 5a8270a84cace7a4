# Install rules and the package config. find_package(lifeguard) gives lifeguard::lifeguard (the
# core: lifeguard-targets.cmake); each optional component that was built (see
# lifeguard-component-dependencies.cmake) has its own export set and file,
# lifeguard-<component>-targets.cmake, which its area's install(TARGETS ... EXPORT
# lifeguard-<component>-targets) fills and which the package config loads only when asked.
# Dashboards and docs go to share/lifeguard/.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include(${CMAKE_CURRENT_LIST_DIR}/lifeguard-component-dependencies.cmake)
set(lifeguard_config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/lifeguard)

install(TARGETS lifeguard EXPORT lifeguard-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/lifeguard DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT lifeguard-targets NAMESPACE lifeguard:: FILE lifeguard-targets.cmake
        DESTINATION ${lifeguard_config_dir})
if(TARGET lifeguard_asio)  # defined in src/, beside the core
    install(TARGETS lifeguard_asio EXPORT lifeguard-asio-targets)
endif()

# Sets `out` to the other lifeguard components that `component`'s target links (publicly or,
# for a static library, privately: both reach the consumer's link line).
function(lifeguard_component_links component out)
    set(links "")
    foreach(property IN ITEMS LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
        get_target_property(libraries lifeguard_${component} ${property})
        foreach(other IN LISTS lifeguard_known_components)
            if(NOT other STREQUAL component AND "${libraries}" MATCHES "(^|[^A-Za-z0-9_])lifeguard(::|_)${other}($|[^A-Za-z0-9_])")
                list(APPEND links ${other})
            endif()
        endforeach()
    endforeach()
    list(REMOVE_DUPLICATES links)
    set(${out} "${links}" PARENT_SCOPE)
endfunction()

set(LIFEGUARD_BUILT_COMPONENTS "")
set(LIFEGUARD_COMPONENT_LINKS "")
foreach(component IN LISTS lifeguard_known_components)
    if(NOT TARGET lifeguard_${component})
        continue()
    endif()
    list(APPEND LIFEGUARD_BUILT_COMPONENTS ${component})
    install(EXPORT lifeguard-${component}-targets NAMESPACE lifeguard:: FILE lifeguard-${component}-targets.cmake
            DESTINATION ${lifeguard_config_dir})
    lifeguard_component_links(${component} links)
    if(links)
        string(APPEND LIFEGUARD_COMPONENT_LINKS "set(_lifeguard_${component}_links ${links})\n")
    endif()
endforeach()
string(REPLACE ";" " " LIFEGUARD_BUILT_COMPONENTS "${LIFEGUARD_BUILT_COMPONENTS}")
string(REPLACE ";" " " LIFEGUARD_COMPONENT_LINKS "${LIFEGUARD_COMPONENT_LINKS}")

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/lifeguard-config.cmake.in
    ${PROJECT_BINARY_DIR}/lifeguard-config.cmake
    INSTALL_DESTINATION ${lifeguard_config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lifeguard-config-version.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lifeguard-config.cmake ${PROJECT_BINARY_DIR}/lifeguard-config-version.cmake
              ${CMAKE_CURRENT_LIST_DIR}/lifeguard-component-dependencies.cmake
        DESTINATION ${lifeguard_config_dir})

# share/lifeguard/dashboards (Grafana) and share/lifeguard/doc; poolsize --help points there.
set(LIFEGUARD_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/lifeguard)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/dashboards/ DESTINATION ${LIFEGUARD_INSTALL_DATADIR}/dashboards)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${LIFEGUARD_INSTALL_DATADIR}/doc)
