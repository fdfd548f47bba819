// Routes protobuf's own log lines (e.g. "String field ... contains invalid UTF-8 data when
// parsing a protocol buffer", written for every garbage frame a peer sends) into Parley's log,
// rate-limited. Exists because hostile input must not be able to flood the log (issue 15).
// Depends on libprotobuf, shared/common/log.h.
#pragma once

#include <cstdint>

namespace parley::transport {

/// Installs the handler (once per process; later calls do nothing). Protobuf's lines then go to
/// PARLEY_LOG at warn (error for FATAL), at most one per second, with a count of the suppressed.
/// Called by Server::start and Client::create; call it early in other binaries that parse
/// untrusted protobuf.
void route_protobuf_logs();

/// Protobuf log lines seen since the handler was installed (tests).
std::uint64_t protobuf_log_lines();

}  // namespace parley::transport
