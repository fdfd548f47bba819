// The config keys every Parley service shares (transport, HTTP, service host, logging).
// Exists so that every service spells and documents them the same way; a service adds its own
// keys to the returned schema and overrides defaults such as its port. Depends on schema.h.
#pragma once

#include <string>

#include "shared/config/schema.h"

namespace parley::config {

/// A schema holding the common service keys:
///   transport.bind          string    tcp://127.0.0.1:7100  ZeroMQ ROUTER endpoint (tcp://,
///   ipc://, inproc://) http.address            string    127.0.0.1             address of the
///   /metrics /healthz /readyz server http.port               int       9100                  its
///   port; 0 picks a free one service.workers         int       2                     engine worker
///   actors service.queue_capacity  int       1024                  bounded mailbox / queue size
///   service.drain_grace     duration  10s                   SIGTERM: time to finish in-flight work
///   log.level               string    info                  debug|info|warn|error|off
///   log.json                bool      false                 JSON log lines
/// A service picks its own defaults with Schema::set_default (e.g. its port).
Schema service_base_schema(std::string program, std::string description);

}  // namespace parley::config
