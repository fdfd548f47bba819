# parley_test(NAME SOURCES ... LIBS ... LABELS unit|integration|gpu|model|bench [TIMEOUT s])
# Every test is a GoogleTest binary registered as one ctest entry with its labels, so
# `ctest -L unit` / `-LE bench` select by kind. Tests see PARLEY_SOURCE_DIR, PARLEY_BINARY_DIR
# and PARLEY_TESTDATA (../shared/testdata beside the checkout; tests skip when it is absent).
find_package(GTest REQUIRED)
get_filename_component(PARLEY_TESTDATA_DEFAULT "${PROJECT_SOURCE_DIR}/../shared/testdata" ABSOLUTE)
set(PARLEY_TESTDATA "${PARLEY_TESTDATA_DEFAULT}" CACHE PATH "Shared test data (read in place)")

function(parley_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${name} PRIVATE
    PARLEY_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PARLEY_BINARY_DIR="${PROJECT_BINARY_DIR}"
    PARLEY_TESTDATA="${PARLEY_TESTDATA}")
  parley_target_defaults(${name})
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "PARLEY_BINARY_DIR=${PROJECT_BINARY_DIR};PARLEY_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# parley_bench(NAME SOURCES ... LIBS ...): a plain executable printing its figures and ratios,
# registered under the `bench` label (excluded from the default test run).
function(parley_bench name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;ARGS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  parley_target_defaults(${name})
  add_test(NAME ${name} COMMAND ${name} ${ARG_ARGS})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "bench" TIMEOUT ${ARG_TIMEOUT})
endfunction()
