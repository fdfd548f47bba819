// /proc readers behind the process_* callback metrics.
// Why /proc and not getrusage: resident memory, start time and open fds are only there, and one
// parser keeps the numbers consistent with node_exporter's. Depends on registry, POSIX.
#include "shared/metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace parley::metrics {
namespace {

struct StatFields {
  double utime_ticks = 0;
  double stime_ticks = 0;
  double start_ticks = 0;
  double vsize_bytes = 0;
  double rss_pages = 0;
};

Result<StatFields> read_self_stat() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return unavailable("cannot read /proc/self/stat");
  // Field 2 (comm) is parenthesized and may hold spaces or ')': fields resume after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return data_loss("/proc/self/stat has no ')'");
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string tok; rest >> tok;) f.push_back(tok);
  if (f.size() < 22) return data_loss("/proc/self/stat has too few fields");
  StatFields s;
  s.utime_ticks = std::strtod(f[11].c_str(), nullptr);  // field 14
  s.stime_ticks = std::strtod(f[12].c_str(), nullptr);  // field 15
  s.start_ticks = std::strtod(f[19].c_str(), nullptr);  // field 22, ticks after boot
  s.vsize_bytes = std::strtod(f[20].c_str(), nullptr);  // field 23
  s.rss_pages = std::strtod(f[21].c_str(), nullptr);    // field 24
  return s;
}

Result<double> read_boot_time() {
  std::ifstream in("/proc/stat");
  if (!in) return unavailable("cannot read /proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double v = 0;
      if (in >> v) return v;
      break;
    }
    in.ignore(1 << 20, '\n');
  }
  return data_loss("/proc/stat has no btime");
}

Result<double> count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return unavailable("cannot open /proc/self/fd");
  int own = ::dirfd(dir);
  double n = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    if (std::atoi(e->d_name) == own) continue;  // the fd this listing uses
    ++n;
  }
  ::closedir(dir);
  return n;
}

double max_fds() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return std::nan("");
  return r.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity() : static_cast<double>(r.rlim_cur);
}

double ticks_per_second() {
  static const double kTicks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return kTicks;
}

double page_size() {
  static const double kPage = static_cast<double>(::sysconf(_SC_PAGESIZE));
  return kPage;
}

// Start time cannot change: computed once.
double start_time_seconds() {
  static const double kStart = [] {
    auto stat = read_self_stat();
    auto boot = read_boot_time();
    if (!stat.ok() || !boot.ok()) return std::nan("");
    return *boot + stat->start_ticks / ticks_per_second();
  }();
  return kStart;
}

}  // namespace

Result<ProcessStats> read_process_stats() {
  PARLEY_ASSIGN_OR_RETURN(StatFields stat, read_self_stat());
  PARLEY_ASSIGN_OR_RETURN(double fds, count_open_fds());
  ProcessStats s;
  s.cpu_seconds = (stat.utime_ticks + stat.stime_ticks) / ticks_per_second();
  s.resident_memory_bytes = stat.rss_pages * page_size();
  s.virtual_memory_bytes = stat.vsize_bytes;
  s.start_time_seconds = start_time_seconds();
  s.open_fds = fds;
  s.max_fds = max_fds();
  return s;
}

void register_process_metrics(Registry& registry) {
  auto stat_value = [](double (*pick)(const StatFields&)) {
    return [pick] {
      auto s = read_self_stat();
      return s.ok() ? pick(*s) : std::nan("");
    };
  };
  registry.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
      .labels()
      .set_function(stat_value([](const StatFields& s) { return (s.utime_ticks + s.stime_ticks) / ticks_per_second(); }));
  registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
      .labels()
      .set_function(stat_value([](const StatFields& s) { return s.rss_pages * page_size(); }));
  registry.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
      .labels()
      .set_function(stat_value([](const StatFields& s) { return s.vsize_bytes; }));
  registry.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
      .labels()
      .set_function([] { return start_time_seconds(); });
  registry.gauge("process_open_fds", "Number of open file descriptors.").labels().set_function([] {
    auto n = count_open_fds();
    return n.ok() ? *n : std::nan("");
  });
  registry.gauge("process_max_fds", "Maximum number of open file descriptors.").labels().set_function([] {
    return max_fds();
  });
}

}  // namespace parley::metrics
