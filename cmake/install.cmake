# cmake --install: the libraries, the public headers (include/lumac/), the lumac executable, the
# presets and bundled models, and a CMake package so that an outside project does
#   find_package(lumac REQUIRED)
#   target_link_libraries(app PRIVATE lumac::lumac)
# lumac::lumac carries every level (devices to studies) and none of lumac's own compile options
# (-march=native, warnings): those stay private to lumac's targets.
include(CMakePackageConfigHelpers)

add_library(lumac_library INTERFACE)
set_target_properties(lumac_library PROPERTIES EXPORT_NAME lumac)
target_link_libraries(lumac_library INTERFACE lumac_studies)
add_library(lumac::lumac ALIAS lumac_library)

set(LUMAC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/lumac)
install(TARGETS lumac_library lumac_studies lumac_energy lumac_nn lumac_circuits lumac_devices
                lumac_core lumac_options lumac_public
        EXPORT lumacTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS lumac lumac-mpi RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/lumac DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY data/presets data/models DESTINATION ${CMAKE_INSTALL_DATADIR}/lumac/data)
install(EXPORT lumacTargets NAMESPACE lumac:: DESTINATION ${LUMAC_CMAKE_DIR})
configure_package_config_file(cmake/lumacConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/lumacConfig.cmake
                              INSTALL_DESTINATION ${LUMAC_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/lumacConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/lumacConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/lumacConfigVersion.cmake
        DESTINATION ${LUMAC_CMAKE_DIR})
