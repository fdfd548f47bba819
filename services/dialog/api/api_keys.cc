// API keys: parsing entries and Secret files, lookup, the failed-attempt limiter (see api_keys.h).
// Depends on api_keys.h, Boost's SHA-1 (a tenant name for plain keys: not a secret's protection).
#include "services/dialog/api/api_keys.h"

#include <boost/uuid/detail/sha1.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace parley::dialog {
namespace {

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

bool valid_tenant(const std::string& t) {
  if (t.empty() || t.size() > 64) return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string hashed_tenant(const std::string& secret) {
  boost::uuids::detail::sha1 h;
  h.process_bytes(secret.data(), secret.size());
  boost::uuids::detail::sha1::digest_type d;
  h.get_digest(d);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x%04x", d[0], d[1] >> 16);
  return std::string("key:") + buf;
}

}  // namespace

Result<ApiKey> parse_api_key(const std::string& raw, const std::string& default_tenant) {
  const std::string entry = trim(raw);
  ApiKey key;
  auto first = entry.find(':');
  auto second = first == std::string::npos ? std::string::npos : entry.find(':', first + 1);
  bool structured = false;
  if (second != std::string::npos) {
    std::string scopes = entry.substr(0, first);
    std::replace(scopes.begin(), scopes.end(), ',', '+');
    if (scopes == "admin" || scopes == "client" || scopes == "admin+client" || scopes == "client+admin") {
      structured = true;
      key.admin = scopes.find("admin") != std::string::npos;
      key.client = scopes.find("client") != std::string::npos;
      key.tenant = entry.substr(first + 1, second - first - 1);
      key.secret = entry.substr(second + 1);
      if (!valid_tenant(key.tenant)) {
        return invalid_argument("api key entry: bad tenant '" + key.tenant.substr(0, 64) +
                                "' (1..64 of letters, digits, '_', '-', '.')");
      }
    }
  }
  if (!structured) {
    key.secret = entry;
    key.client = true;
    key.tenant = default_tenant.empty() ? hashed_tenant(entry) : default_tenant;
    if (!valid_tenant(key.tenant) && !default_tenant.empty()) {
      return invalid_argument("api key file '" + default_tenant.substr(0, 64) + "': the file name is not a valid tenant");
    }
  }
  if (key.secret.empty()) return invalid_argument("api key of tenant '" + key.tenant + "' is empty");
  return key;
}

Result<std::vector<ApiKey>> read_api_keys_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<ApiKey> keys;
  auto read_file = [&](const fs::path& file, bool whole) -> Status {
    std::ifstream in(file);
    if (!in) return not_found("api.keys_file: cannot read " + file.string());
    std::string line, all;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (whole) {
        all += line + "\n";
        continue;
      }
      line = trim(line);
      if (line.empty() || line[0] == '#') continue;
      auto k = parse_api_key(line);
      if (!k.ok()) return k.status().with_context(file.string() + ":" + std::to_string(n));
      keys.push_back(std::move(*k));
    }
    if (whole && !trim(all).empty()) {
      auto k = parse_api_key(trim(all), file.filename().string());
      if (!k.ok()) return k.status().with_context(file.string());
      keys.push_back(std::move(*k));
    }
    return Status::ok();
  };
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (e.path().filename().string().starts_with(".") || !fs::is_regular_file(e.path(), ec)) continue;
      PARLEY_RETURN_IF_ERROR(read_file(e.path(), true));
    }
  } else {
    PARLEY_RETURN_IF_ERROR(read_file(path, false));
  }
  if (keys.empty()) return invalid_argument("api.keys_file: no keys in " + path);
  return keys;
}

std::optional<ApiKey> find_api_key(const std::vector<ApiKey>& keys, const std::string& presented) {
  std::optional<ApiKey> found;
  for (const auto& k : keys) {
    // Compare every byte of every key (no early exit on the first difference): the time taken
    // does not tell a guesser how much of a key was right.
    unsigned char diff = k.secret.size() == presented.size() ? 0 : 1;
    for (std::size_t i = 0; i < k.secret.size(); ++i) {
      diff |= static_cast<unsigned char>(k.secret[i] ^ (i < presented.size() ? presented[i] : 0));
    }
    if (diff == 0 && !found) found = k;
  }
  return found;
}

bool FailedAuthLimiter::locked(const std::string& address, Clock::time_point now, int* retry_after_s) {
  std::lock_guard lock(mu_);
  auto it = windows_.find(address);
  if (it == windows_.end()) return false;
  if (now - it->second.start >= window_) {
    windows_.erase(it);
    return false;
  }
  if (it->second.failures < max_failures_) return false;
  if (retry_after_s != nullptr) {
    *retry_after_s = static_cast<int>(
        std::chrono::ceil<std::chrono::seconds>(it->second.start + window_ - now).count());
    *retry_after_s = std::max(1, *retry_after_s);
  }
  return true;
}

void FailedAuthLimiter::failed(const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (windows_.size() >= max_addresses_ && !windows_.contains(address)) {
    // Bounded memory: drop expired windows; if none expired, the oldest.
    for (auto it = windows_.begin(); it != windows_.end();) {
      it = now - it->second.start >= window_ ? windows_.erase(it) : std::next(it);
    }
    if (windows_.size() >= max_addresses_) {
      auto oldest = std::min_element(windows_.begin(), windows_.end(),
                                     [](const auto& a, const auto& b) { return a.second.start < b.second.start; });
      windows_.erase(oldest);
    }
  }
  auto [it, fresh] = windows_.try_emplace(address, Window{now, 0});
  if (!fresh && now - it->second.start >= window_) it->second = Window{now, 0};
  ++it->second.failures;
}

std::string client_address(const std::string& remote) {
  std::string host = remote;
  if (!host.empty() && host[0] == '[') {
    auto close = host.find(']');
    host = host.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    // Keep the /64: the first four groups of the address as written.
    std::size_t colons = 0, cut = std::string::npos;
    for (std::size_t i = 0; i < host.size(); ++i) {
      if (host[i] == ':' && ++colons == 4) {
        cut = i;
        break;
      }
    }
    if (cut != std::string::npos && host.find("::") == std::string::npos) host = host.substr(0, cut) + "::/64";
    return host;
  }
  auto colon = host.rfind(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

}  // namespace parley::dialog
