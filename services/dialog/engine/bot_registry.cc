// Bot registry (see bot_registry.h): install validated bots, sync them to NLU and QA.
// Depends on bot_registry.h.
#include "services/dialog/engine/bot_registry.h"

#include <filesystem>

#include "shared/common/log.h"

namespace parley::dialog {
namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

BotRegistry::BotRegistry(Services& services, DialogMetrics* metrics, std::chrono::milliseconds train_timeout)
    : services_(services), metrics_(metrics), train_timeout_(train_timeout) {}

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
  return b;
}

Result<v1::Bot> BotRegistry::install(LoadResult loaded) {
  if (!loaded.ok()) return loaded.status();
  const std::string id = loaded.bot->id;
  {
    std::lock_guard lock(mu_);
    Entry& e = bots_[id];
    e.bot = loaded.bot;
    e.loaded_at_unix_ms = unix_ms();
    e.nlu_trained = false;
    e.kb_ingested = !loaded.bot->knowledge_base.enabled;
    e.sync_error = "not synced yet";
    e.generation = next_generation_++;
    if (metrics_) metrics_->bots_loaded.set(static_cast<double>(bots_.size()));
  }
  PARLEY_LOG(kInfo).kv("bot", id).kv("intents", loaded.bot->intents.size()).kv("source", loaded.bot->source_path)
      << "bot loaded";
  sync(id);
  return describe(id);
}

Result<v1::Bot> BotRegistry::load_file(const std::string& path) { return install(load_bot_file(path)); }

Result<v1::Bot> BotRegistry::put_yaml(const std::string& id, const std::string& yaml) {
  std::string base_dir;
  if (auto existing = find(id); existing && !existing->source_path.empty() && existing->source_path != "(http)") {
    base_dir = std::filesystem::path(existing->source_path).parent_path().string();
  }
  LoadResult r = parse_bot(yaml, id + ".yaml", base_dir);
  if (r.ok() && r.bot->id != id) {
    return invalid_argument("the definition's bot.id is '" + r.bot->id + "' but the URL names '" + id + "'");
  }
  if (r.ok()) std::const_pointer_cast<Bot>(r.bot)->source_path = "";
  return install(std::move(r));
}

Result<v1::Bot> BotRegistry::reload(const std::string& id) {
  auto bot = find(id);
  if (!bot) return not_found("bot '" + id + "' is not loaded");
  if (bot->source_path.empty()) {
    return failed_precondition("bot '" + id + "' was not loaded from a file; PUT /v1/bots/" + id + " its YAML instead");
  }
  LoadResult r = load_bot_file(bot->source_path);
  if (r.ok() && r.bot->id != id) {
    return invalid_argument("the file now defines bot '" + r.bot->id + "', not '" + id + "'");
  }
  return install(std::move(r));
}

std::shared_ptr<const Bot> BotRegistry::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = bots_.find(id);
  return it == bots_.end() ? nullptr : it->second.bot;
}

Result<v1::Bot> BotRegistry::describe(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = bots_.find(id);
  if (it == bots_.end()) return not_found("bot '" + id + "' is not loaded");
  return to_proto(it->second);
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
  bool nlu_ok = !need_nlu, kb_ok = !need_kb;
  if (need_nlu) {
    auto r = services_.train(bot->train_request(), train_timeout_);
    nlu_ok = r.ok();
    if (!nlu_ok) error = "nlu Train: " + r.status().to_string();
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
    auto r = services_.ingest(req, train_timeout_);
    kb_ok = r.ok();
    if (!kb_ok) error += (error.empty() ? "" : "; ") + std::string("qa Ingest: ") + r.status().to_string();
  }
  std::lock_guard lock(mu_);
  auto it = bots_.find(id);
  if (it == bots_.end() || it->second.generation != generation) return;  // replaced meanwhile
  it->second.nlu_trained = nlu_ok;
  it->second.kb_ingested = kb_ok;
  it->second.sync_error = error;
  if (!error.empty()) {
    PARLEY_LOG_EVERY_MS(kWarn, 5000).kv("bot", id).kv("error", error) << "bot not synced yet; will retry";
  } else if (need_nlu || need_kb) {
    PARLEY_LOG(kInfo).kv("bot", id) << "bot synced (NLU trained, knowledge base ingested)";
  }
}

std::size_t BotRegistry::sync_pending() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : bots_) {
      if (!e.nlu_trained || !e.kb_ingested) ids.push_back(id);
    }
  }
  for (const auto& id : ids) sync(id);
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, e] : bots_) n += (!e.nlu_trained || !e.kb_ingested) ? 1 : 0;
  return n;
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
