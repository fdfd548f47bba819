# parley_test(NAME SOURCES ... LIBS ... LABELS unit|integration|gpu|model|fuzz [TIMEOUT s] [ARGS ...])
# Every test is a GoogleTest binary registered as one ctest entry with its labels, so
# `ctest -L unit` / `-LE bench` select by kind. Tests see PARLEY_SOURCE_DIR, PARLEY_BINARY_DIR
# and PARLEY_TESTDATA (../shared/testdata beside the checkout; tests skip when it is absent).
# Skips are reported as skips: the binaries' main() (tests/support/gtest_main.cc) exits
# 77 (PARLEY_SKIP_CODE) when a case was skipped and no case failed, and logs each skipped case with its
# reason to $PARLEY_SKIP_LOG; tools/test lists them and, under CI=true, fails on any skip that is
# neither a `gpu` test nor in tools/lib/skip-allowed.txt.
set(PARLEY_SKIP_CODE 77)
find_package(GTest REQUIRED)
get_filename_component(PARLEY_TESTDATA_DEFAULT "${PROJECT_SOURCE_DIR}/../shared/testdata" ABSOLUTE)
set(PARLEY_TESTDATA "${PARLEY_TESTDATA_DEFAULT}" CACHE PATH "Shared test data (read in place)")

function(parley_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} parley_gtest_main GTest::gtest GTest::gmock)
  target_compile_definitions(${name} PRIVATE
    PARLEY_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PARLEY_BINARY_DIR="${PROJECT_BINARY_DIR}"
    PARLEY_TESTDATA="${PARLEY_TESTDATA}")
  parley_target_defaults(${name})
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no ${ARG_ARGS})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    SKIP_RETURN_CODE ${PARLEY_SKIP_CODE}
    ENVIRONMENT "PARLEY_BINARY_DIR=${PROJECT_BINARY_DIR};PARLEY_SOURCE_DIR=${PROJECT_SOURCE_DIR};PARLEY_TEST_NAME=${name}")
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

# parley_test_entry(NAME BINARY LABELS ... [TIMEOUT s] [ARGS ...] [ENV VAR=value ...]): a second ctest entry for a
# binary parley_test already built (e.g. the CUDA cases of a test, filtered, under the gpu label).
function(parley_test_entry name binary)
  cmake_parse_arguments(ARG "" "TIMEOUT" "LABELS;ARGS;ENV" ${ARGN})
  add_test(NAME ${name} COMMAND ${binary} --gtest_color=no ${ARG_ARGS})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    SKIP_RETURN_CODE ${PARLEY_SKIP_CODE}
    ENVIRONMENT "PARLEY_BINARY_DIR=${PROJECT_BINARY_DIR};PARLEY_SOURCE_DIR=${PROJECT_SOURCE_DIR};PARLEY_TEST_NAME=${name};${ARG_ENV}")
endfunction()
