// CURVE settings from the config (see curve_config.h).
// Depends on curve_config.h, shared/transport/curve.h.
#include "shared/service/curve_config.h"

#include <zmq.h>

#include <filesystem>
#include <fstream>

namespace parley::service {
namespace {

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

/// A keypair from an inline secret (public derived) or a key file; nullopt when neither is set.
Result<std::optional<transport::CurveKeyPair>> keypair(const config::Config& cfg, const std::string& secret_key,
                                                       const std::string& file_key) {
  const std::string secret = trim(cfg.get_string(secret_key));
  const std::string file = cfg.get_string(file_key);
  if (!secret.empty() && !file.empty()) {
    return invalid_argument("set " + secret_key + " or " + file_key + ", not both");
  }
  if (!file.empty()) {
    PARLEY_ASSIGN_OR_RETURN(transport::CurveKeyPair k, transport::read_curve_key_file(file));
    if (k.secret_key.empty()) return invalid_argument(file_key + ": " + file + " holds no secret= line");
    return std::optional<transport::CurveKeyPair>(k);
  }
  if (secret.empty()) return std::optional<transport::CurveKeyPair>();
  PARLEY_RETURN_IF_ERROR(transport::validate_curve_key(secret, secret_key));
  char pub[41] = {};
  if (zmq_curve_public(pub, secret.c_str()) != 0) return invalid_argument(secret_key + ": cannot derive its public key");
  return std::optional<transport::CurveKeyPair>(transport::CurveKeyPair{pub, secret});
}

}  // namespace

Result<std::vector<std::string>> read_curve_client_keys(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::string> keys;
  auto read = [&](const fs::path& file) -> Status {
    std::ifstream in(file);
    if (!in) return not_found("CURVE client keys: cannot read " + file.string());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      line = trim(line);
      if (line.empty() || line[0] == '#' || line.rfind("secret=", 0) == 0) continue;
      if (line.rfind("public=", 0) == 0) line = trim(line.substr(7));
      PARLEY_RETURN_IF_ERROR(transport::validate_curve_key(line, file.string() + ":" + std::to_string(n)));
      keys.push_back(line);
    }
    return Status::ok();
  };
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (e.path().filename().string().starts_with(".") || !fs::is_regular_file(e.path(), ec)) continue;
      PARLEY_RETURN_IF_ERROR(read(e.path()));
    }
  } else {
    PARLEY_RETURN_IF_ERROR(read(path));
  }
  return keys;
}

Result<CurveSettings> curve_settings(const config::Config& cfg) {
  CurveSettings out;
  PARLEY_ASSIGN_OR_RETURN(out.server, keypair(cfg, "transport.curve_secret_key", "transport.curve_key_file"));
  for (const auto& k : cfg.get_list("transport.curve_clients")) {
    PARLEY_RETURN_IF_ERROR(transport::validate_curve_key(trim(k), "transport.curve_clients"));
    out.allowed_clients.push_back(trim(k));
  }
  if (!cfg.get_string("transport.curve_clients_file").empty()) {
    PARLEY_ASSIGN_OR_RETURN(auto more, read_curve_client_keys(cfg.get_string("transport.curve_clients_file")));
    out.allowed_clients.insert(out.allowed_clients.end(), more.begin(), more.end());
  }
  if (out.server && out.allowed_clients.empty()) {
    return invalid_argument(
        "transport.curve_secret_key is set but no client may connect: list the allowed client public keys in "
        "transport.curve_clients or transport.curve_clients_file");
  }
  if (!out.server && !out.allowed_clients.empty()) {
    return invalid_argument("transport.curve_clients is set without a server key (transport.curve_secret_key or "
                            "transport.curve_key_file)");
  }
  if (out.server && !transport::curve_available()) return failed_precondition("CURVE is configured but this libzmq lacks it");

  std::string server_public = trim(cfg.get_string("transport.curve_server_key"));
  const std::string server_public_file = cfg.get_string("transport.curve_server_key_file");
  if (!server_public.empty() && !server_public_file.empty()) {
    return invalid_argument("set transport.curve_server_key or transport.curve_server_key_file, not both");
  }
  if (!server_public_file.empty()) {
    PARLEY_ASSIGN_OR_RETURN(transport::CurveKeyPair k, transport::read_curve_key_file(server_public_file));
    server_public = k.public_key;
  }
  PARLEY_ASSIGN_OR_RETURN(auto client_keys,
                          keypair(cfg, "transport.curve_client_secret_key", "transport.curve_client_key_file"));
  if (!server_public.empty()) {
    PARLEY_RETURN_IF_ERROR(transport::validate_curve_key(server_public, "transport.curve_server_key"));
    if (!client_keys) {
      return invalid_argument("transport.curve_server_key is set but this process has no client keypair "
                              "(transport.curve_client_secret_key or transport.curve_client_key_file): servers "
                              "only accept listed clients");
    }
    out.client = transport::CurveClientOptions{server_public, *client_keys};
  } else if (client_keys) {
    return invalid_argument("a CURVE client keypair is set without transport.curve_server_key (the public key of "
                            "the services this process calls)");
  }
  return out;
}

}  // namespace parley::service
