# The `stai` command-line program and its end-to-end tests.
# Included from the top-level CMakeLists.txt when STAI_BUILD_APPS is ON.
#
# The CMake target and the installed executable are both called `stai` (the
# header-only library target is stai_core, used as stai::stai).

find_package(CLI11 CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)

add_executable(stai ${CMAKE_CURRENT_SOURCE_DIR}/apps/stai.cpp)
target_include_directories(stai PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/apps)
target_link_libraries(stai PRIVATE stai::io stai::plot CLI11::CLI11 yaml-cpp stai_project_flags)
install(TARGETS stai RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# End-to-end tests: a doctest program that runs the built `stai` on tiny
# simulated inputs and checks outputs, JSON summaries and error paths.
if(STAI_BUILD_TESTS AND TARGET doctest::doctest)
  file(GLOB STAI_CLI_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/cli/test_*.cpp)
  add_executable(stai_cli_tests ${STAI_CLI_TEST_SOURCES})
  target_link_libraries(stai_cli_tests PRIVATE stai::io stai_project_flags doctest::doctest)
  target_compile_definitions(stai_cli_tests PRIVATE STAI_CLI_PATH="$<TARGET_FILE:stai>")
  add_dependencies(stai_cli_tests stai)
  doctest_discover_tests(stai_cli_tests TEST_PREFIX "cli: ")
endif()
