// Standard process metrics (process_cpu_seconds_total, process_resident_memory_bytes, ...),
// read from /proc/self at scrape time. Exists so every Parley process exports what Grafana's
// stock dashboards and the Go/Python clients export, under the same names. Depends on registry.
#pragma once

#include "shared/common/status.h"
#include "shared/metrics/registry.h"

namespace parley::metrics {

/// One reading of /proc/self (Linux). Values in base units.
struct ProcessStats {
  double cpu_seconds = 0;         // user + system
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double start_time_seconds = 0;  // since the Unix epoch
  double open_fds = 0;
  double max_fds = 0;             // soft RLIMIT_NOFILE
};

/// Reads /proc/self/stat, /proc/stat (boot time), /proc/self/fd and the fd limit.
/// kUnavailable when /proc is missing or unreadable.
Result<ProcessStats> read_process_stats();

/// Registers process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds and
/// process_max_fds as callback metrics on `registry`. Idempotent; thread-safe. A metric whose
/// /proc file cannot be read exports NaN for that scrape.
void register_process_metrics(Registry& registry);

}  // namespace parley::metrics
