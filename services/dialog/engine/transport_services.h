// Services over the real wire: NLU, QA and LM through the ZeroMQ transport (deadlines, least-
// loaded replicas, retries of idempotent calls), action webhooks through HTTP POST (Beast, with a
// timeout, on a small thread pool). Depends on services.h, shared/transport, Boost.Beast (in .cc).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "services/dialog/engine/services.h"

namespace parley::dialog {

struct TransportServicesOptions {
  std::vector<std::string> nlu_targets{"tcp://127.0.0.1:7102"};
  std::vector<std::string> qa_targets{"tcp://127.0.0.1:7103"};
  std::vector<std::string> lm_targets{"tcp://127.0.0.1:7104"};
  /// A call to a service with no live replica fails after this (not at its deadline), so a turn
  /// with a service down answers its fallback quickly.
  std::chrono::milliseconds max_wait_for_replica{300};
  int webhook_threads = 4;
};

/// Creates the clients (they connect in the background; services may come up later).
Result<std::unique_ptr<Services>> make_transport_services(const TransportServicesOptions& options);

/// POSTs `body` (application/json) to an http:// URL and returns the body of a 2xx reply.
/// DEADLINE_EXCEEDED past `timeout`, UNAVAILABLE when the connection fails, INTERNAL for a
/// non-2xx status (named in the message), INVALID_ARGUMENT for a bad URL. Blocking.
Result<std::string> http_post_json(const std::string& url, const std::string& body, std::chrono::milliseconds timeout);

}  // namespace parley::dialog
