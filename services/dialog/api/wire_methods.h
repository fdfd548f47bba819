// The orchestrator's methods on the internal ZeroMQ transport (parley.v1.Dialog/*, port 7100):
// create/get/delete a session, a turn, and a streamed turn (LM tokens, then the turn).
// Why: gateways inside the cluster (the voice front end, other services) talk protobuf over the
// transport like every other service, without going through the public HTTP API and its keys.
// Depends on engine/sessions.h, shared/service (Host).
#pragma once

#include <cstddef>

#include "services/dialog/engine/sessions.h"
#include "shared/service/host.h"

namespace parley::dialog {

struct WireLimits {
  std::size_t max_text_bytes = 4096;  ///< the same limit as the HTTP API's api.max_text_bytes
};

/// Registers parley.v1.Dialog/{CreateSession,GetSession,DeleteSession,Turn,TurnStream} on
/// `host` (before host.run()). `sessions` must outlive the host's serving.
void register_wire_methods(service::Host& host, SessionManager& sessions, WireLimits limits);

}  // namespace parley::dialog
