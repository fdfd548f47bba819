// Bot registry (see bot_registry.h): install validated bots, sync them to NLU and QA with
// backoff, persist uploads in the store and follow the store, delete bots.
// Depends on bot_registry.h, glibc malloc_trim.
#include "services/dialog/engine/bot_registry.h"

#include <malloc.h>

#include <algorithm>
#include <filesystem>

#include "shared/common/log.h"
#include "shared/common/utf8.h"

namespace parley::dialog {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr std::string_view kStorePrefix = "bot:";

/// A service answered that the bot itself is the problem: sending it again cannot help.
bool refused_for_good(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kOutOfRange:
    case StatusCode::kResourceExhausted:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnimplemented:
      return true;
    default:
      return false;
  }
}

}  // namespace

BotRegistry::BotRegistry(Services& services, DialogMetrics* metrics, BotRegistryOptions options)
    : services_(services), metrics_(metrics), options_(std::move(options)) {}

BotRegistry::BotRegistry(Services& services, DialogMetrics* metrics, std::chrono::milliseconds train_timeout)
    : BotRegistry(services, metrics, BotRegistryOptions{.train_timeout = train_timeout}) {}

BotRegistry::~BotRegistry() { stop_sync(); }

v1::Bot BotRegistry::to_proto(const Entry& e) {
  v1::Bot b;
  b.set_id(e.bot->id);
  b.set_name(e.bot->name);
  b.set_description(e.bot->description);
  b.set_version(e.bot->version);
  b.set_loaded_at_unix_ms(e.loaded_at_unix_ms);
  for (const auto& i : e.bot->intents) b.add_intents(i.name);
  for (const auto& f : e.bot->forms) b.add_forms(f.name);
  b.set_nlu_trained(e.nlu_trained);
  b.set_kb_ingested(e.kb_ingested);
  b.set_source(e.bot->source_path);
  b.set_sync_error(e.sync_error);
  for (const auto& w : e.nlu_warnings) b.add_nlu_warnings(w);
  for (const auto& w : e.kb_warnings) b.add_kb_warnings(w);
  b.set_owner(e.owner);
  b.set_persisted(e.uploaded && !e.stored_value.empty());
  switch (e.bot->nlu.fine_tune) {
    case v1::FINE_TUNE_OFF: b.set_nlu_fine_tune_requested("off"); break;
    case v1::FINE_TUNE_FULL: b.set_nlu_fine_tune_requested("full"); break;
    case v1::FINE_TUNE_LORA: b.set_nlu_fine_tune_requested("lora"); break;
    default: break;  // the NLU's default
  }
  return b;
}

void BotRegistry::give_memory_back() {
  // A replaced bot's strings and vectors go back to malloc's free lists; trimming returns the
  // free pages to the OS, so the process does not keep the peak of every upload it ever saw.
  ::malloc_trim(0);
}

Result<v1::Bot> BotRegistry::install(LoadResult loaded, const std::string& owner, bool uploaded,
                                     std::string stored_value) {
  if (!loaded.ok()) return loaded.status();
  const std::string id = loaded.bot->id;
  for (const auto& w : loaded.bot->webhooks) {
    Status allowed = options_.webhook_guard.check_url(w.url);
    if (!allowed.is_ok()) return Status(allowed.code(), "bot '" + id + "' action '" + w.name + "': " + allowed.message());
  }
  // A fine-tuning job takes the NLU's cores for seconds to minutes: the deployment decides
  // whether a bot's author may start one.
  const v1::FineTuneMode asked = loaded.bot->nlu.fine_tune;
  if (asked == v1::FINE_TUNE_FULL || asked == v1::FINE_TUNE_LORA) {
    const std::string mode = asked == v1::FINE_TUNE_FULL ? "full" : "lora";
    if (!options_.fine_tune_allow.contains(mode)) {
      std::string allowed;
      for (const auto& m : options_.fine_tune_allow) allowed += (allowed.empty() ? "" : ", ") + m;
      return permission_denied("bot '" + id + "' asks for NLU fine-tuning (nlu.fine_tune: " + mode +
                               "), which this deployment does not allow (dialog.bot_fine_tune_allow: " +
                               (allowed.empty() ? "none" : allowed) + ")");
    }
  }
  std::shared_ptr<const Bot> replaced;
  {
    std::lock_guard lock(mu_);
    if (!bots_.contains(id) && bots_.size() >= options_.max_bots) {
      return resource_exhausted(std::to_string(bots_.size()) + " bots are loaded, the limit (dialog.max_bots); delete one first");
    }
    Entry& e = bots_[id];
    replaced = std::move(e.bot);
    e.bot = loaded.bot;
    e.loaded_at_unix_ms = unix_ms();
    e.nlu_trained = false;
    e.kb_ingested = !loaded.bot->knowledge_base.enabled;
    e.sync_error = "not synced yet";
    e.nlu_warnings.clear();
    e.kb_warnings.clear();
    e.generation = next_generation_++;
    e.owner = owner;
    e.uploaded = uploaded;
    e.stored_value = std::move(stored_value);
    e.refused = false;
    e.failures = 0;
    e.retry_at = {};
    if (metrics_) metrics_->bots_loaded.set(static_cast<double>(bots_.size()));
  }
  PARLEY_LOG(kInfo).kv("bot", id).kv("intents", loaded.bot->intents.size()).kv("source", loaded.bot->source_path)
      << "bot loaded";
  if (replaced) {
    replaced.reset();  // freed here unless a turn still runs on it (then when that turn ends)
    give_memory_back();
  }
  sync(id);
  return describe(id);
}

Result<v1::Bot> BotRegistry::load_file(const std::string& path) {
  return install(load_bot_file(path, options_.limits), "", false, "");
}

Status BotRegistry::check_quota(const std::string& id, const std::string& owner) const {
  std::lock_guard lock(mu_);
  auto it = bots_.find(id);
  if (it != bots_.end() && it->second.uploaded && it->second.owner != owner) {
    return permission_denied("bot '" + id + "' was uploaded by another tenant; choose another id");
  }
  std::size_t mine = 0;
  for (const auto& [other, e] : bots_) mine += (e.uploaded && e.owner == owner && other != id) ? 1 : 0;
  if (mine >= options_.max_bots_per_tenant) {
    return resource_exhausted("this key's tenant has " + std::to_string(mine) + " bots, the limit (api.max_bots_per_key); "
                              "DELETE /v1/bots/{id} one first");
  }
  return Status::ok();
}

LoadResult BotRegistry::parse_upload(const std::string& id, const std::string& yaml) const {
  std::string base_dir;
  if (auto existing = find(id); existing && !existing->source_path.empty()) {
    base_dir = std::filesystem::path(existing->source_path).parent_path().string();
  }
  LoadResult r = parse_bot(yaml, id + ".yaml", base_dir, options_.limits);
  if (r.ok() && r.bot->id != id) {
    LoadResult bad;
    bad.errors.push_back(BotError{id + ".yaml", 0, 0,
                                  "the definition's bot.id is '" + r.bot->id + "' but the URL names '" + id + "'", ""});
    return bad;
  }
  if (r.ok()) std::const_pointer_cast<Bot>(r.bot)->source_path = "";
  return r;
}

Result<v1::Bot> BotRegistry::put_yaml(const std::string& id, const std::string& yaml, const std::string& owner) {
  PARLEY_RETURN_IF_ERROR(check_quota(id, owner));
  LoadResult r = parse_upload(id, yaml);
  if (!r.ok()) return r.status();
  std::string stored;
  if (options_.store != nullptr) {
    v1::StoredBot sb;
    sb.set_id(id);
    sb.set_definition_yaml(yaml);
    sb.set_owner(owner);
    sb.set_uploaded_at_unix_ms(unix_ms());
    stored = sb.SerializeAsString();
    auto put = options_.store->put(std::string(kStorePrefix) + id, stored, store::kAnyVersion, std::chrono::milliseconds(0));
    if (!put.ok()) return unavailable("bot store: " + put.status().message() + " (the bot was not installed)");
  }
  return install(std::move(r), owner, true, std::move(stored));
}

Result<v1::Bot> BotRegistry::reload(const std::string& id) {
  auto bot = find(id);
  if (!bot) return not_found("bot '" + excerpt(id) + "' is not loaded");
  if (bot->source_path.empty()) {
    return failed_precondition("bot '" + id + "' was not loaded from a file; PUT /v1/bots/" + id + " its YAML instead");
  }
  LoadResult r = load_bot_file(bot->source_path, options_.limits);
  if (r.ok() && r.bot->id != id) {
    return invalid_argument("the file now defines bot '" + r.bot->id + "', not '" + id + "'");
  }
  return install(std::move(r), "", false, "");
}

Status BotRegistry::remove(const std::string& id, const std::optional<std::string>& owner) {
  bool uploaded = false;
  {
    std::lock_guard lock(mu_);
    auto it = bots_.find(id);
    if (it == bots_.end()) return not_found("bot '" + excerpt(id) + "' is not loaded");
    if (owner && it->second.uploaded && it->second.owner != *owner) {
      return permission_denied("bot '" + id + "' was uploaded by another tenant");
    }
    uploaded = it->second.uploaded;
  }
  if (uploaded && options_.store != nullptr) {
    auto removed = options_.store->remove(std::string(kStorePrefix) + id);
    if (!removed.ok()) return unavailable("bot store: " + removed.status().message() + " (the bot was not deleted)");
  }
  std::shared_ptr<const Bot> gone;
  {
    std::lock_guard lock(mu_);
    auto it = bots_.find(id);
    if (it != bots_.end()) {
      gone = std::move(it->second.bot);
      bots_.erase(it);
    }
    if (metrics_) metrics_->bots_loaded.set(static_cast<double>(bots_.size()));
  }
  // The services forget it too (their memory is theirs to free); best effort: a service that is
  // down has lost it anyway.
  Status dropped = services_.drop_bot(id, options_.train_timeout);
  if (!dropped.is_ok() && dropped.code() != StatusCode::kNotFound) {
    PARLEY_LOG_EVERY_MS(kWarn, 5000).kv("bot", id).kv("error", dropped.to_string()) << "could not drop the bot from NLU/QA";
  }
  PARLEY_LOG(kInfo).kv("bot", id) << "bot deleted";
  gone.reset();
  give_memory_back();
  return Status::ok();
}

std::shared_ptr<const Bot> BotRegistry::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = bots_.find(id);
  return it == bots_.end() ? nullptr : it->second.bot;
}

std::optional<std::string> BotRegistry::owner_of(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = bots_.find(id);
  if (it == bots_.end()) return std::nullopt;
  return it->second.owner;
}

Result<v1::Bot> BotRegistry::describe(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = bots_.find(id);
  if (it == bots_.end()) return not_found("bot '" + excerpt(id) + "' is not loaded");
  return to_proto(it->second);
}

void BotRegistry::describe_with_training(const std::string& id, Deadline deadline,
                                         std::function<void(Result<v1::Bot>)> done) const {
  auto b = describe(id);
  if (!b.ok()) return done(b.status());
  if (!b->nlu_trained()) {
    // The NLU would answer NOT_FOUND; syncError already says what the training is waiting for.
    b->set_nlu_fine_tune_error("not asked: the NLU has not been trained on this bot yet");
    return done(std::move(b));
  }
  v1::TrainingStatusRequest req;
  req.set_bot_id(id);
  CallMeta meta;
  meta.deadline = deadline;
  services_.training_status(req, meta, [bot = std::move(*b), done = std::move(done)](
                                           std::vector<ReplicaTrainingStatus> replicas) mutable {
    summarize_training(replicas, bot);
    done(std::move(bot));
  });
}

namespace {

/// How far a replica's job has got, for picking the one furthest behind: queued, then running
/// (by progress), then ended still serving the frozen model, then serving the fine-tuned one.
double job_rank(const v1::FineTuneStatus& s) {
  if (s.state() == v1::FineTuneStatus::QUEUED) return 0;
  if (s.state() == v1::FineTuneStatus::RUNNING) return 1 + s.progress();
  return s.serving() == "fine-tuned" ? 4 : 3;
}

}  // namespace

void summarize_training(const std::vector<ReplicaTrainingStatus>& replicas, v1::Bot& bot) {
  std::string errors;
  const v1::FineTuneStatus* behind = nullptr;
  for (const auto& r : replicas) {
    auto* out = bot.add_nlu_replicas();
    out->set_replica(r.replica);
    if (!r.status.ok()) {
      out->set_error(r.status.status().to_string());
      errors += (errors.empty() ? "" : "; ") + (r.replica.empty() ? "" : r.replica + ": ") + out->error();
      continue;
    }
    *out->mutable_fine_tune() = r.status->fine_tune();
    if (behind == nullptr || job_rank(r.status->fine_tune()) < job_rank(*behind)) behind = &r.status->fine_tune();
  }
  if (behind != nullptr) *bot.mutable_nlu_fine_tune() = *behind;
  if (replicas.empty()) {
    bot.set_nlu_fine_tune_error("the NLU's training status: no live NLU replica");
  } else if (!errors.empty()) {
    bot.set_nlu_fine_tune_error(std::string(behind == nullptr ? "the NLU's training status: "
                                                              : "the NLU's training status, replicas not covered: ") +
                                errors);
  }
}

std::vector<v1::Bot> BotRegistry::list() const {
  std::lock_guard lock(mu_);
  std::vector<v1::Bot> out;
  for (const auto& [id, e] : bots_) out.push_back(to_proto(e));
  return out;
}

void BotRegistry::mark_unsynced(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = bots_.find(id);
  if (it == bots_.end()) return;
  it->second.nlu_trained = false;
  it->second.kb_ingested = !it->second.bot->knowledge_base.enabled;
  it->second.sync_error = "a service lost the bot; re-syncing";
  it->second.refused = false;  // the service restarted: it may accept it now
  it->second.failures = 0;
  it->second.retry_at = {};
  kick_ = true;
  cv_.notify_all();
}

void BotRegistry::sync(const std::string& id) {
  std::lock_guard sync_lock(sync_mu_);
  std::shared_ptr<const Bot> bot;
  std::uint64_t generation = 0;
  bool need_nlu = false, need_kb = false;
  {
    std::lock_guard lock(mu_);
    auto it = bots_.find(id);
    if (it == bots_.end()) return;
    bot = it->second.bot;
    generation = it->second.generation;
    need_nlu = !it->second.nlu_trained;
    need_kb = !it->second.kb_ingested;
  }
  std::string error;
  bool nlu_ok = !need_nlu, kb_ok = !need_kb, refused = false;
  std::vector<std::string> warnings, kb_warnings;
  if (need_nlu) {
    auto r = services_.train(bot->train_request(), options_.train_timeout);
    nlu_ok = r.ok();
    if (nlu_ok) {
      warnings.assign(r->warnings().begin(), r->warnings().end());
    } else {
      error = "nlu Train: " + r.status().to_string();
      refused = refused || refused_for_good(r.status());
    }
  }
  if (need_kb) {
    v1::IngestRequest req;
    req.set_kb_id(bot->id);
    req.set_default_mode(bot->knowledge_base.answer_mode == "generative" ? v1::GENERATIVE : v1::EXTRACTIVE);
    req.set_default_min_score(bot->knowledge_base.min_score);
    for (const auto& d : bot->knowledge_base.documents) {
      auto* doc = req.add_documents();
      doc->set_id(d.id);
      doc->set_title(d.title);
      doc->set_text(d.text);
    }
    auto r = services_.ingest(req, options_.train_timeout);
    kb_ok = r.ok();
    if (kb_ok) {
      kb_warnings.assign(r->warnings().begin(), r->warnings().end());
    } else {
      error += (error.empty() ? "" : "; ") + std::string("qa Ingest: ") + r.status().to_string();
      refused = refused || refused_for_good(r.status());
    }
  }
  std::lock_guard lock(mu_);
  auto it = bots_.find(id);
  if (it == bots_.end() || it->second.generation != generation) return;  // replaced meanwhile
  Entry& e = it->second;
  e.nlu_trained = nlu_ok;
  e.kb_ingested = kb_ok;
  // What a service noticed in the bot's data: kept for the API, and logged once.
  auto keep = [&id](std::vector<std::string>& into, std::vector<std::string> notes, const char* what) {
    if (!notes.empty()) {
      std::string all;
      for (const auto& w : notes) all += (all.empty() ? "" : "; ") + w;
      PARLEY_LOG(kInfo).kv("bot", id).kv("warnings", all) << what;
    }
    into = std::move(notes);
  };
  if (need_nlu && nlu_ok) keep(e.nlu_warnings, std::move(warnings), "the NLU's notes on the bot's training data");
  if (need_kb && kb_ok) keep(e.kb_warnings, std::move(kb_warnings), "the QA's notes on the bot's knowledge base");
  if (error.empty()) {
    e.sync_error.clear();
    e.failures = 0;
    if (need_nlu || need_kb) {
      PARLEY_LOG(kInfo).kv("bot", id) << "bot synced (NLU trained, knowledge base ingested)";
    }
    return;
  }
  ++e.failures;
  if (refused) {
    // Re-sending what a service refused would only repeat the refusal (and its cost).
    e.refused = true;
    e.sync_error = error + " (not retried: fix the bot and load it again)";
    PARLEY_LOG_EVERY_MS(kWarn, 5000).kv("bot", id).kv("error", error) << "a service refused the bot; not retrying";
    return;
  }
  auto backoff = options_.retry_min * (1LL << std::min(e.failures - 1, 16));
  e.retry_at = Clock::now() + std::min<std::chrono::milliseconds>(backoff, options_.retry_max);
  e.sync_error = error;
  PARLEY_LOG_EVERY_MS(kWarn, 5000).kv("bot", id).kv("error", error).kv("attempts", e.failures)
      << "bot not synced yet; will retry";
}

std::size_t BotRegistry::sync_pending() {
  std::vector<std::string> ids;
  const auto now = Clock::now();
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : bots_) {
      if ((!e.nlu_trained || !e.kb_ingested) && !e.refused && now >= e.retry_at) ids.push_back(id);
    }
  }
  for (const auto& id : ids) sync(id);
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, e] : bots_) n += (!e.nlu_trained || !e.kb_ingested) ? 1 : 0;
  return n;
}

std::size_t BotRegistry::refresh_from_store() {
  if (options_.store == nullptr) return 0;
  std::lock_guard refresh_lock(store_mu_);
  auto keys = options_.store->list(options_.max_bots + 1);
  if (!keys.ok()) {
    PARLEY_LOG_EVERY_MS(kWarn, 10000).kv("error", keys.status().to_string()) << "bot store: cannot list bots";
    return 0;
  }
  std::size_t changed = 0;
  std::vector<std::string> present;
  for (const std::string& key : *keys) {
    if (!key.starts_with(kStorePrefix)) continue;
    const std::string id = key.substr(kStorePrefix.size());
    present.push_back(id);
    auto got = options_.store->get(key);
    if (!got.ok()) continue;  // deleted meanwhile, or the store hiccuped: next refresh
    {
      std::lock_guard lock(mu_);
      auto it = bots_.find(id);
      if (it != bots_.end() && it->second.stored_value == got->value) continue;  // what we have
    }
    v1::StoredBot sb;
    if (!sb.ParseFromString(got->value) || sb.id() != id) {
      PARLEY_LOG_EVERY_MS(kWarn, 10000).kv("key", excerpt(key)) << "bot store: not a stored bot; ignored";
      continue;
    }
    auto installed = install(parse_upload(id, sb.definition_yaml()), sb.owner(), true, got->value);
    if (installed.ok()) {
      ++changed;
    } else {
      PARLEY_LOG_EVERY_MS(kWarn, 10000).kv("bot", id).kv("error", installed.status().to_string())
          << "bot store: a stored bot does not load here";
    }
  }
  // Uploads deleted on another replica.
  std::vector<std::string> gone;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : bots_) {
      if (e.uploaded && !e.stored_value.empty() && std::find(present.begin(), present.end(), id) == present.end()) {
        gone.push_back(id);
      }
    }
    for (const auto& id : gone) bots_.erase(id);
    if (metrics_) metrics_->bots_loaded.set(static_cast<double>(bots_.size()));
  }
  for (const auto& id : gone) PARLEY_LOG(kInfo).kv("bot", id) << "bot deleted elsewhere; unloaded";
  if (!gone.empty()) give_memory_back();
  return changed + gone.size();
}

void BotRegistry::start_sync(std::chrono::milliseconds interval) {
  sync_thread_ = std::thread([this, interval] {
    while (true) {
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, interval, [&] { return stopping_ || kick_; });
        if (stopping_) return;
        kick_ = false;
      }
      refresh_from_store();
      sync_pending();
    }
  });
}

void BotRegistry::stop_sync() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (sync_thread_.joinable()) sync_thread_.join();
}

}  // namespace parley::dialog
