// Services over the real wire: NLU, QA and LM through the ZeroMQ transport (deadlines, least-
// loaded replicas, retries of idempotent calls), action webhooks through HTTP POST (Beast, with a
// timeout, on a small thread pool). Depends on services.h, shared/transport, Boost.Beast (in .cc).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "services/dialog/engine/cancellation.h"
#include "services/dialog/engine/services.h"
#include "services/dialog/engine/webhook_guard.h"
#include "shared/transport/client.h"

namespace parley::dialog {

struct TransportServicesOptions {
  std::vector<std::string> nlu_targets{"tcp://127.0.0.1:7102"};
  std::vector<std::string> qa_targets{"tcp://127.0.0.1:7103"};
  std::vector<std::string> lm_targets{"tcp://127.0.0.1:7104"};
  /// A call to a service with no live replica fails after this (not at its deadline), so a turn
  /// with a service down answers its fallback quickly.
  std::chrono::milliseconds max_wait_for_replica{300};
  int webhook_threads = 4;
  /// NLU and QA replicas each get every bot (Train / Ingest go to all of them); a replica that
  /// appears gets every bot replayed, with this deadline per call, before turns go to it. The
  /// replica set is checked this often (the client itself re-resolves dns:// every 5 s).
  std::chrono::milliseconds replay_timeout{60'000};
  std::chrono::milliseconds replica_poll_interval{200};
  /// Where webhooks may go (dialog.webhook_allow); the default refuses them all.
  WebhookGuard webhook_guard;
  /// CURVE for the NLU/QA/LM clients (the servers' public key, this process's client keys);
  /// unset: plaintext.
  std::optional<transport::CurveClientOptions> curve;
};

/// Creates the clients (they connect in the background; services may come up later).
Result<std::unique_ptr<Services>> make_transport_services(const TransportServicesOptions& options);

/// POSTs `body` (application/json) to an http:// URL the guard allows and returns the body of a
/// 2xx reply. The host is resolved here and every address is checked by the guard before the
/// connection uses it (a name that resolves to an internal address is refused); redirects are
/// not followed; the body sent and the reply read are bounded by the guard's options.
/// Errors: PERMISSION_DENIED (destination not allowed), INVALID_ARGUMENT (bad URL, body too big,
/// reply too big or malformed), DEADLINE_EXCEEDED past `timeout`, UNAVAILABLE when the
/// connection fails, INTERNAL for a non-2xx status (3xx included: named in the message),
/// CANCELLED when `cancel` fires (the connection is closed at once). Blocking.
Result<std::string> http_post_json(const WebhookGuard& guard, const std::string& url, const std::string& body,
                                   std::chrono::milliseconds timeout, std::shared_ptr<Cancellation> cancel = nullptr);

}  // namespace parley::dialog
