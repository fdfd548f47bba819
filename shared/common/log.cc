// Log line formatting and output.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>

#include "shared/common/check.h"
#include "shared/common/json.h"
#include "shared/common/log.h"

namespace parley::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<bool> g_json{false};
std::mutex g_mu;
std::string g_component;  // guarded by g_mu

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
    case Level::kOff: return "off";
  }
  return "info";
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

const char* basename_of(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

}  // namespace

void set_level(Level level) { g_level.store(level); }
Level level() { return g_level.load(std::memory_order_relaxed); }
void set_json(bool json) { g_json.store(json); }
void set_component(std::string component) {
  std::lock_guard lock(g_mu);
  g_component = std::move(component);
}

bool parse_level(std::string_view text, Level* out) {
  std::string t(text);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kOff}) {
    if (t == level_name(l)) {
      *out = l;
      return true;
    }
  }
  if (t == "warning") {
    *out = Level::kWarn;
    return true;
  }
  return false;
}

Line::~Line() {
  std::string out;
  std::string msg = msg_.str();
  std::lock_guard lock(g_mu);
  if (g_json.load()) {
    out += "{\"ts\":\"" + timestamp() + "\",\"level\":\"" + level_name(level_) + "\"";
    if (!g_component.empty()) {
      out += ",\"component\":";
      append_json_string(out, g_component);
    }
    out += ",\"msg\":";
    append_json_string(out, msg);
    out += ",\"src\":";
    append_json_string(out, std::string(basename_of(file_)) + ":" + std::to_string(line_));
    for (const auto& [k, v] : fields_) {
      out += ',';
      append_json_string(out, k);
      out += ':';
      append_json_string(out, v);
    }
    out += "}\n";
  } else {
    out += timestamp();
    out += ' ';
    out += level_name(level_);
    if (!g_component.empty()) out += " [" + g_component + "]";
    out += ' ';
    out += basename_of(file_);
    out += ':' + std::to_string(line_) + "] " + msg;
    for (const auto& [k, v] : fields_) out += " " + k + "=" + v;
    out += '\n';
  }
  // One write(2) per line so lines from several threads or processes never interleave.
  ssize_t ignored = ::write(2, out.data(), out.size());
  (void)ignored;
}

bool RateLimiter::allow() {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  std::int64_t next = next_allowed_ns_.load();
  if (now_ns >= next &&
      next_allowed_ns_.compare_exchange_strong(
          next, now_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(period_).count())) {
    return true;
  }
  suppressed_.fetch_add(1);
  return false;
}

}  // namespace parley::log

namespace parley {
namespace {
std::atomic<std::uint64_t> g_bugs{0};
}
std::uint64_t bug_count() { return g_bugs.load(); }
void note_bug() { g_bugs.fetch_add(1); }

namespace detail {
FatalLine::FatalLine(const char* cond, const char* file, int line) : line_(log::Level::kError, file, line) {
  line_ << "CHECK failed: " << cond << " ";
}
FatalLine::~FatalLine() {
  line_.~Line();  // flush the message before aborting
  std::abort();
}
}  // namespace detail
}  // namespace parley
