// Protobuf's log handler, rate-limited into ours (see protobuf_log.h).
// Depends on protobuf_log.h, google/protobuf/stubs/logging.h, shared/common/log.h.
#include "shared/transport/protobuf_log.h"

#include <google/protobuf/stubs/logging.h>

#include <atomic>
#include <mutex>
#include <string>

#include "shared/common/log.h"
#include "shared/common/utf8.h"

namespace parley::transport {
namespace {

std::atomic<std::uint64_t> g_lines{0};

void handle(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  g_lines.fetch_add(1, std::memory_order_relaxed);
  (void)file;
  (void)line;
  if (level >= google::protobuf::LOGLEVEL_FATAL) {
    PARLEY_LOG(kError) << "protobuf: " << excerpt(message, 300);
    return;
  }
  PARLEY_LOG_EVERY_MS(kWarn, 1000) << "protobuf: " << excerpt(message, 300);
}

}  // namespace

void route_protobuf_logs() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&handle); });
}

std::uint64_t protobuf_log_lines() { return g_lines.load(); }

}  // namespace parley::transport
