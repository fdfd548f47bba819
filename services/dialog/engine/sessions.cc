// The session manager (see sessions.h): creates sessions in the store, spawns a session actor on
// a session's first turn here, routes turns to it, evicts idle actors, deletes sessions.
// Depends on sessions.h, session_actor.h, shared/store.
#include "services/dialog/engine/sessions.h"

#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "services/dialog/engine/session_actor.h"
#include "shared/common/check.h"
#include "shared/common/log.h"
#include "shared/common/utf8.h"

namespace parley::dialog {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct SessionManager::Entry {
  actor::ActorRef<SessionMsg> ref;
  std::shared_ptr<std::atomic<std::int64_t>> last_used = std::make_shared<std::atomic<std::int64_t>>(0);
};

std::string new_session_id() {
  // 128 bits from the kernel's CSPRNG: ids are bearer capabilities for a conversation, so they
  // must not be predictable from ids seen before (a seeded mt19937 was, issue 15).
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0) {
      PARLEY_CHECK(errno == EINTR) << "getrandom failed: " << std::strerror(errno);
      continue;
    }
    got += static_cast<std::size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string id;
  id.reserve(32);
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0xf]);
  }
  return id;
}

SessionManager::SessionManager(actor::ActorSystem& system, SessionDeps deps, DialogOptions options)
    : system_(system), deps_(std::move(deps)), options_(options) {}

SessionManager::~SessionManager() {
  std::lock_guard lock(mu_);
  for (auto& [id, e] : actors_) e->ref.stop();
  actors_.clear();
  if (deps_.metrics) deps_.metrics->active_sessions.set(0);
}

Result<v1::Session> SessionManager::create(const std::string& bot_id, const std::map<std::string, std::string>& metadata,
                                           const std::string& tenant) {
  if (!deps_.find_bot(bot_id)) return not_found("bot '" + excerpt(bot_id) + "' is not loaded (see GET /v1/bots)");
  (void)metadata;
  v1::Session s;
  s.set_id(new_session_id());
  s.set_bot_id(bot_id);
  s.set_tenant(tenant);
  s.set_created_at_unix_ms(unix_ms());
  s.set_updated_at_unix_ms(s.created_at_unix_ms());
  auto put = deps_.store->put(s.id(), s.SerializeAsString(), store::kMustNotExist, options_.session_ttl);
  if (!put.ok()) return unavailable("session store: " + put.status().message());
  s.set_version(*put);
  if (deps_.metrics) deps_.metrics->sessions_created.inc();
  return s;
}

std::shared_ptr<SessionManager::Entry> SessionManager::entry_for(const std::string& session_id) {
  std::lock_guard lock(mu_);
  auto it = actors_.find(session_id);
  if (it != actors_.end() && it->second->ref.alive()) return it->second;
  auto e = std::make_shared<Entry>();
  e->last_used->store(Clock::now().time_since_epoch().count());
  SessionDeps deps = deps_;
  DialogOptions options = options_;
  auto last_used = e->last_used;
  e->ref = system_.spawn<SessionActor>(
      actor::ActorOptions{.name = "session", .mailbox_capacity = 256, .messages_per_turn = 32, .restart = {}},
      session_id, deps, options, last_used);
  actors_[session_id] = e;
  if (deps_.metrics) deps_.metrics->active_sessions.set(static_cast<double>(actors_.size()));
  return e;
}

void SessionManager::turn(const std::string& session_id, std::string text, TokenFn on_token, TurnDone done) {
  turn(session_id, std::move(text), std::move(on_token), 0, std::move(done));
}

void SessionManager::turn(const std::string& session_id, std::string text, TokenFn on_token, std::uint64_t tag,
                          TurnDone done, TenantCheck tenant) {
  auto e = entry_for(session_id);
  // Exactly once, whatever races between a stopping actor and a late service reply.
  auto once = std::make_shared<std::pair<std::atomic<bool>, TurnDone>>();
  once->second = std::move(done);
  // Turns in flight on this replica (HTTP, transport and voice alike): the dialog's autoscaling
  // signal (its turns never pass the host's dispatch queue).
  if (deps_.metrics) deps_.metrics->turns_in_flight.inc();
  TurnDone guarded = [this, once, session_id](Result<v1::TurnResponse> r) {
    if (once->first.exchange(true)) return;
    if (deps_.metrics) deps_.metrics->turns_in_flight.dec();
    // No such session (never created, deleted, expired): do not keep an actor for it.
    if (!r.ok() && r.status().code() == StatusCode::kNotFound) forget(session_id);
    // Another tenant's session: answered exactly like one that does not exist.
    if (!r.ok() && r.status().code() == StatusCode::kPermissionDenied) {
      r = not_found("session '" + excerpt(session_id) + "' not found (deleted or expired)");
    }
    once->second(std::move(r));
  };
  TurnInput input{std::move(text), std::move(on_token), guarded, 0, tag};
  input.tenant = std::move(tenant);
  Status s = e->ref.tell(StartTurn{std::move(input)});
  if (!s.is_ok()) guarded(Status(s.code(), "session '" + excerpt(session_id) + "': " + s.message()));
}

std::uint64_t SessionManager::new_turn_tag() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

void SessionManager::interrupt(const std::string& session_id, std::uint64_t tag, std::string played_text,
                               std::string reason) {
  auto e = entry_for(session_id);
  Status s = e->ref.tell(InterruptTurn{tag, std::move(played_text), std::move(reason)});
  if (!s.is_ok()) {
    PARLEY_LOG_EVERY_MS(kWarn, 1000).kv("session", session_id).kv("status", s.to_string())
        << "could not deliver an interruption to the session actor";
  }
}

void SessionManager::turn(const std::string& session_id, std::string text, TokenFn on_token, std::uint64_t tag,
                          TurnDone done) {
  turn(session_id, std::move(text), std::move(on_token), tag, std::move(done), std::nullopt);
}

Result<v1::Session> SessionManager::get(const std::string& session_id, const TenantCheck& tenant) {
  const std::string missing = "session '" + excerpt(session_id) + "' not found (deleted or expired)";
  auto stored = deps_.store->get(session_id);
  if (!stored.ok() && stored.status().code() == StatusCode::kNotFound) return not_found(missing);
  if (!stored.ok()) return unavailable("session store: " + stored.status().message());
  v1::Session s;
  if (!s.ParseFromString(stored->value)) return data_loss("session '" + excerpt(session_id) + "' is corrupt in the store");
  // Another tenant's session is answered exactly like a missing one (no probing for ids).
  if (tenant && s.tenant() != *tenant) return not_found(missing);
  s.set_version(stored->version);
  return s;
}

void SessionManager::forget(const std::string& session_id) {
  std::lock_guard lock(mu_);
  auto it = actors_.find(session_id);
  if (it != actors_.end()) {
    it->second->ref.stop();
    actors_.erase(it);
  }
  if (deps_.metrics) deps_.metrics->active_sessions.set(static_cast<double>(actors_.size()));
}

Status SessionManager::remove(const std::string& session_id, const TenantCheck& tenant) {
  if (tenant) {
    auto s = get(session_id, tenant);
    if (!s.ok()) return s.status();
  }
  forget(session_id);
  auto removed = deps_.store->remove(session_id);
  if (!removed.ok()) return unavailable("session store: " + removed.status().message());
  if (!*removed) return not_found("session '" + excerpt(session_id) + "' not found");
  return Status::ok();
}

std::size_t SessionManager::active() const {
  std::lock_guard lock(mu_);
  return actors_.size();
}

std::size_t SessionManager::evict_idle(std::chrono::milliseconds idle) {
  const auto cutoff = (Clock::now() - idle).time_since_epoch().count();
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto it = actors_.begin(); it != actors_.end();) {
    const bool busy = it->second->ref.stats().depth > 0;
    if (!busy && it->second->last_used->load() < cutoff) {
      it->second->ref.stop();
      it = actors_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  if (deps_.metrics) deps_.metrics->active_sessions.set(static_cast<double>(actors_.size()));
  return n;
}

}  // namespace parley::dialog
