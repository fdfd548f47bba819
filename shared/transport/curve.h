// CURVE keys for encrypted, server-authenticated links between Parley services: generation,
// key files (Z85 text) and validation. Exists so keys come from files mounted from Secrets and a
// `parley keygen` CLI can make them. Depends on libzmq (built with CURVE), shared/common.
#pragma once

#include <string>

#include "shared/common/status.h"

namespace parley::transport {

/// A CURVE keypair as Z85 text (40 characters each). `secret_key` may be empty for a public-only
/// key (what a client is given about a server).
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};

/// True when this libzmq was built with CURVE support.
bool curve_available();

/// A fresh keypair (libsodium/tweetnacl randomness inside libzmq).
Result<CurveKeyPair> generate_curve_keypair();

/// Checks a Z85 key: 40 characters of the Z85 alphabet that decode to 32 bytes.
Status validate_curve_key(const std::string& z85, const std::string& what);

/// Key file format (text, one `name=value` per line; `#` starts a comment line; blank lines and
/// surrounding spaces ignored; unknown names are an error):
///
///   # Parley CURVE keypair (Z85). Keep the secret line private.
///   public=rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
///   secret=JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6
///
/// A public-only file (no `secret=` line) is how a server's public key is handed to clients.
/// When both lines are present the public key must be the one derived from the secret.
Result<CurveKeyPair> read_curve_key_file(const std::string& path);

/// Writes `keys` in the format above. The file is created with mode 0600 when it holds a secret
/// (0644 otherwise); an existing file is replaced only when `overwrite` is true.
Status write_curve_key_file(const std::string& path, const CurveKeyPair& keys, bool overwrite = false);

/// Generates a keypair and writes it to `secret_path` (public+secret) and, when not empty,
/// `public_path` (public only): what `parley keygen` does.
Result<CurveKeyPair> generate_curve_key_files(const std::string& secret_path, const std::string& public_path,
                                              bool overwrite = false);

}  // namespace parley::transport
