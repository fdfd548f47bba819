# Compiler flags for Parley's own targets: warnings (as errors by default), sanitizers, ccache.
# Why a function and not global flags: generated code (protobuf) and third-party headers must not
# inherit -Werror, so each of our targets opts in through parley_target_defaults().
find_program(PARLEY_CCACHE ccache)
if(PARLEY_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${PARLEY_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${PARLEY_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${PARLEY_CCACHE})
endif()

if(PARLEY_SANITIZE)
  add_compile_options(-fsanitize=${PARLEY_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${PARLEY_SANITIZE})
endif()
if(PARLEY_FUZZ)
  # Coverage instrumentation for libFuzzer in every library the targets link (the targets add
  # -fsanitize=fuzzer, which brings libFuzzer's main).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

function(parley_target_defaults target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-missing-field-initializers>)
  if(PARLEY_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()

# parley_library(NAME SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...])
# One static library per folder; includes are repo-root relative ("shared/actor/actor.h").
function(parley_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
  parley_target_defaults(${name})
endfunction()

# parley_executable(NAME SOURCES ... [LIBS ...])
function(parley_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  parley_target_defaults(${name})
endfunction()

# Adds every immediate child folder that has a CMakeLists.txt, so a new library, service or test
# folder is picked up without editing its parent (and parallel work does not collide there).
function(parley_add_subdirs)
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()
