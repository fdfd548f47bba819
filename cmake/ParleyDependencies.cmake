# System dependencies, all from Debian 12 packages (tools/setup installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)          # Asio, Beast: header-only
find_package(Protobuf REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
find_package(yaml-cpp REQUIRED)
find_package(ZLIB REQUIRED)                # services/asr: Whisper's compression-ratio rule
if(NOT TARGET yaml-cpp::yaml-cpp AND TARGET yaml-cpp)
  add_library(yaml-cpp::yaml-cpp ALIAS yaml-cpp)
endif()
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)   # bot regexes: linear-time matching (shared/text/regex)
