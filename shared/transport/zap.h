// ZAP (ZeroMQ Authentication Protocol, RFC 27) for CURVE servers: which client public keys may
// connect. libzmq asks the handler bound at inproc://zeromq.zap.01 in the socket's context about
// every CURVE handshake; this file runs that handler (one thread per context, shared by every
// server socket of the context, each with its own ZAP domain and allowed keys).
// Exists so "CURVE on" means "only our clients", not "anyone who knows the server's public key".
// Depends on libzmq, shared/common.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "shared/common/status.h"

namespace parley::transport {

/// A server socket's place in its context's ZAP handler: while it lives, handshakes on the
/// socket's ZAP domain are accepted only from `allowed` client keys. Dropping the last one of a
/// context stops that context's handler thread.
class ZapDomain {
 public:
  virtual ~ZapDomain() = default;
  /// The ZMQ_ZAP_DOMAIN to set on the socket (before bind).
  virtual const std::string& domain() const = 0;
  /// Handshakes refused so far on this domain.
  virtual std::uint64_t refused() const = 0;
};

/// Registers a domain whose CURVE clients must hold one of `allowed_client_keys` (Z85 public
/// keys, validated here: INVALID_ARGUMENT naming a bad one). Starts the context's handler on
/// first use (UNAVAILABLE when inproc://zeromq.zap.01 is taken by someone else). Thread-safe.
Result<std::shared_ptr<ZapDomain>> register_zap_domain(void* zmq_context, const std::vector<std::string>& allowed_client_keys);

}  // namespace parley::transport
