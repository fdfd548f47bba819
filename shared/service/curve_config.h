// CURVE settings of a service process, read from its config (transport.curve_* keys, from flags,
// PARLEY_TRANSPORT_CURVE_* environment variables or key files — a Kubernetes Secret mounted as
// files or passed as env): the server keypair and allowed client keys for the sockets it binds,
// and the server public key + client keypair for the clients it makes.
// Depends on shared/config, shared/transport (curve.h, client.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "shared/common/status.h"
#include "shared/config/config.h"
#include "shared/transport/client.h"
#include "shared/transport/curve.h"

namespace parley::service {

struct CurveSettings {
  /// This process's server keypair: every socket it binds requires CURVE. Unset: plaintext.
  std::optional<transport::CurveKeyPair> server;
  /// With `server`: the client public keys allowed to connect (never empty then).
  std::vector<std::string> allowed_clients;
  /// For the clients this process makes (to NLU, QA, LM, ...): the servers' public key and this
  /// process's client keypair. Unset: plaintext.
  std::optional<transport::CurveClientOptions> client;
};

/// Reads and checks the transport.curve_* keys. INVALID_ARGUMENT naming the key for a bad or
/// missing piece: a server key without allowed clients, a client keypair without the server's
/// public key (or the reverse), a key that is not Z85; NOT_FOUND for a missing key file.
Result<CurveSettings> curve_settings(const config::Config& config);

/// Allowed client keys from `path`: a file (one key per line, blank lines and # comments skipped,
/// `public=KEY` lines accepted), or a directory of such files (dot-files skipped).
Result<std::vector<std::string>> read_curve_client_keys(const std::string& path);

}  // namespace parley::service
