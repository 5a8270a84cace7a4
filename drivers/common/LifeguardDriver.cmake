# What every database driver target shares: the library, its lifeguard::<name> alias and export
# name, its public include/ folder, the drivers' private helpers (sql_text.hpp, this folder),
# warnings, and the install rules. Each driver's CMakeLists adds only its vendor library.
include_guard(GLOBAL)

# lifeguard_driver(<name> SOURCES <files>...): target lifeguard_<name>, alias lifeguard::<name>,
# installing include/lifeguard/<name>.hpp.
function(lifeguard_driver name)
    cmake_parse_arguments(arg "" "" "SOURCES" ${ARGN})
    set(target lifeguard_${name})
    add_library(${target} ${arg_SOURCES})
    add_library(lifeguard::${name} ALIAS ${target})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
    target_include_directories(${target}
        PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
        PRIVATE ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
    target_compile_features(${target} PUBLIC cxx_std_20)
    target_link_libraries(${target} PUBLIC lifeguard::lifeguard)
    lifeguard_warnings(${target})

    if(LIFEGUARD_INSTALL)
        include(GNUInstallDirs)
        install(TARGETS ${target} EXPORT lifeguard-${name}-targets
                ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
                LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
        install(FILES include/lifeguard/${name}.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lifeguard)
    endif()
endfunction()
