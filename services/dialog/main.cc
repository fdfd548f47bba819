// parley-dialog: the dialog orchestrator process — loads bots, runs one actor per session, serves
// the public HTTP API (api.port) and the chat page; metrics/health on http.port like every service.
// Depends on the service host, engine/, api/, shared/store.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "services/dialog/api/api_keys.h"
#include "services/dialog/api/api_server.h"
#include "services/dialog/api/voice_gateway.h"
#include "services/dialog/api/voice_wire.h"
#include "services/dialog/api/wire_methods.h"
#include "services/dialog/engine/bot_registry.h"
#include "services/dialog/engine/dialog_metrics.h"
#include "services/dialog/engine/sessions.h"
#include "services/dialog/engine/transport_services.h"
#include "services/dialog/voice/transport_speech.h"
#include "services/dialog/voice/voice_metrics.h"
#include "shared/actor/actor_system.h"
#include "shared/actor/executor.h"
#include "shared/common/log.h"
#include "shared/config/base_schema.h"
#include "shared/service/curve_config.h"
#include "shared/service/host.h"
#include "shared/store/memory_store.h"
#include "shared/store/session_store.h"

#ifndef PARLEY_DIALOG_DEFAULT_BOT
#define PARLEY_DIALOG_DEFAULT_BOT "services/dialog/bots/demo/bot.yaml"
#endif

namespace {

std::chrono::milliseconds ms(parley::config::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

bool set_explicitly(const parley::config::Config& cfg, std::string_view key) {
  return cfg.origin(key).source != parley::config::Source::kDefault;
}

/// The default bot: the compiled-in path (the source tree) when it exists, else the demo bot
/// installed beside the binary (<prefix>/bin/parley-dialog -> <prefix>/bots/demo/bot.yaml, the
/// container image's /opt/parley/bots), so the image runs without the source tree.
std::string default_bot_file() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(PARLEY_DIALOG_DEFAULT_BOT, ec)) return PARLEY_DIALOG_DEFAULT_BOT;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "bots" / "demo" / "bot.yaml";
    if (fs::is_regular_file(installed, ec)) return installed.string();
  }
  return PARLEY_DIALOG_DEFAULT_BOT;  // reported as unreadable, with its path, at load
}

/// Bot files in `dir`: every *.yaml / *.yml in it and every <sub>/bot.yaml (a bot with a kb/
/// folder), sorted; dot-entries skipped (a mounted ConfigMap's ..data links).
std::vector<std::string> bot_files_in(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.starts_with(".")) continue;
    const auto ext = e.path().extension().string();
    if (fs::is_regular_file(e.path(), ec) && (ext == ".yaml" || ext == ".yml")) {
      out.push_back(e.path().string());
    } else if (fs::is_directory(e.path(), ec) && fs::is_regular_file(e.path() / "bot.yaml", ec)) {
      out.push_back((e.path() / "bot.yaml").string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// The store URL from the config: dialog.store when set ("memory" or a redis:// URL), else the
/// Helm chart's store.type / store.redis_url. Redis gets store.timeout and store.threads as its
/// command timeout and pool size unless the URL names them.
std::string store_url(const parley::config::Config& cfg) {
  std::string url;
  if (set_explicitly(cfg, "dialog.store")) {
    url = cfg.get_string("dialog.store");
  } else if (cfg.get_string("store.type") == "redis") {
    url = cfg.get_string("store.redis_url");
  } else {
    url = "memory";
  }
  if (url == "memory" || url == "memory://") return "memory://";
  if (url == "redis") url = cfg.get_string("store.redis_url");
  std::string extra;
  if (url.find("timeout_ms=") == std::string::npos) {
    extra += "timeout_ms=" + std::to_string(ms(cfg.get_duration("store.timeout")).count());
  }
  if (url.find("pool=") == std::string::npos) {
    extra += std::string(extra.empty() ? "" : "&") + "pool=" + std::to_string(cfg.get_int("store.threads"));
  }
  if (!extra.empty()) url += (url.find('?') == std::string::npos ? "?" : "&") + extra;
  return url;
}

/// The URL of the bots' store next to the sessions': the same Redis with the key prefix
/// "<session prefix>bots:" (default "parley:bots:"); "memory://" stays memory (one process).
std::string bot_store_url(const std::string& sessions_url) {
  if (sessions_url.starts_with("memory")) return "memory://";
  std::string url = sessions_url;
  auto q = url.find('?');
  std::string base = url.substr(0, q), query = q == std::string::npos ? "" : url.substr(q + 1);
  std::string prefix = "parley:bots:";
  std::string rest;
  std::size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    auto amp = query.find('&', pos);
    std::string pair = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (pair.starts_with("prefix=")) {
      prefix = pair.substr(7) + "bots:";
    } else if (!pair.empty()) {
      rest += (rest.empty() ? "" : "&") + pair;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return base + "?" + rest + (rest.empty() ? "" : "&") + "prefix=" + prefix;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace parley;
  using namespace std::chrono_literals;
  config::Schema schema = config::service_base_schema(
      "parley-dialog", "Dialog orchestrator: bots, sessions and the public chat API (HTTP on api.port).");
  schema.set_default("transport.bind", std::string("tcp://127.0.0.1:7100"));
  schema.set_default("http.port", 9100);
  schema.add_string("api.address", "127.0.0.1", "Address of the public HTTP API");
  schema.add_int("api.port", 8080, "Port of the public HTTP API (0 picks a free one)", config::int_range(0, 65535));
  schema.add_int("api.threads", 2, "I/O threads of the public API", config::int_range(1, 64));
  schema.add_list("api.keys", {},
                  "Bearer API keys: SECRET (client scope, its own tenant) or SCOPES:TENANT:SECRET with SCOPES = "
                  "admin | client | admin+client; empty = no authentication, API on loopback only");
  schema.add_double("api.rate_limit_rps", 0, "Requests per second per API key (per client address without keys); 0 = unlimited",
                    config::double_range(0, 1e6));
  schema.add_double("api.rate_limit_burst", 20, "Token-bucket burst of the rate limit", config::double_range(1, 1e6));
  schema.add_int("api.max_body_bytes", 1 << 20, "Largest request body (bot YAML uploads)", config::int_range(1024, 64 << 20));
  schema.add_int("api.max_json_bytes", 64 << 10, "Largest JSON request body", config::int_range(256, 16 << 20));
  schema.add_int("api.max_text_bytes", 4096,
                 "Longest text of one turn over the transport (parley.v1.Dialog/Turn) and of a typed voice turn, in bytes",
                 config::int_range(1, 1 << 20));
  schema.add_int("api.max_text_chars", 4096,
                 "Longest text of one HTTP turn, in characters (Unicode code points: the OpenAPI maxLength)",
                 config::int_range(1, 1 << 20));
  schema.add_bool("api.allow_unauthenticated_remote", false,
                  "Without api.keys, serve api.address even when it is not loopback (only behind a proxy that "
                  "authenticates); otherwise a keyless API binds 127.0.0.1");
  schema.add_int("api.max_failed_auth", 10, "Failed API key attempts per client address per minute before 429",
                 config::int_range(1, 1'000'000));
  schema.add_int("api.max_bots_per_key", 20, "Bots one tenant (its admin keys) may upload", config::int_range(0, 100000));
  schema.add_int("api.max_connections", 1024, "Open connections of the public API (idle ones make room for new ones)",
                 config::int_range(1, 1'000'000));
  schema.add_int("api.max_connections_per_address", 64, "Open connections from one client address (IPv6: a /64); 0 = no limit",
                 config::int_range(0, 1'000'000));
  schema.add_duration("api.header_timeout", 10s, "A request's headers and body must arrive within this once it started",
                      config::duration_range(100ms, 600s));
  schema.add_duration("api.idle_timeout", 15s, "A connection with no request under way is closed after this",
                      config::duration_range(100ms, 3600s));
  schema.add_duration("api.bot_status_timeout", 2s,
                      "GET /v1/bots/{bot} waits this long for the NLU's fine-tuning status, then answers without it",
                      config::duration_range(1ms, 60s));
  schema.add_int("api.max_pending_bot_jobs", 4, "Bot uploads/deletes waiting behind the running one (more: 503)",
                 config::int_range(0, 1000));
  schema.add_list("dialog.bots", {default_bot_file()}, "Bot definition files to load at start");
  schema.add_list("dialog.nlu_targets", {"tcp://127.0.0.1:7102"}, "NLU service replicas (tcp:// or dns://)");
  schema.add_list("dialog.qa_targets", {"tcp://127.0.0.1:7103"}, "QA service replicas");
  schema.add_list("dialog.lm_targets", {"tcp://127.0.0.1:7104"}, "LM service replicas");
  schema.add_duration("dialog.nlu_timeout", 2s, "Deadline of an NLU Parse call", config::duration_range(1ms, 60s));
  schema.add_duration("dialog.qa_timeout", 5s, "Deadline of a QA Answer call", config::duration_range(1ms, 120s));
  schema.add_duration("dialog.lm_timeout", 30s, "Deadline of an LM Generate call", config::duration_range(1ms, 600s));
  schema.add_duration("dialog.turn_timeout", 60s, "Budget of a whole turn", config::duration_range(1ms, 600s));
  schema.add_duration("dialog.max_wait_for_replica", 300ms,
                      "A call to a service with no live replica fails after this (fast fallback when it is down)",
                      config::duration_range(0ms, 60s));
  schema.add_duration("dialog.train_timeout", 60s, "Deadline of NLU Train / QA Ingest when a bot loads",
                      config::duration_range(1s, 600s));
  schema.add_duration("dialog.sync_interval", 5s, "Retry interval for bots not yet trained/ingested",
                      config::duration_range(100ms, 600s));
  schema.add_duration("dialog.session_ttl", 3600s, "Sessions expire after this long without a turn",
                      config::duration_range(1s, 30 * 24 * 3600s));
  schema.add_duration("dialog.idle_timeout", 600s, "Session actors idle this long are stopped (state stays in the store)",
                      config::duration_range(1s, 24 * 3600s));
  schema.add_int("dialog.max_history", 20, "Turns kept in a session's history", config::int_range(1, 1000));
  schema.add_int("dialog.actor_threads", 2, "Threads running session actors", config::int_range(1, 64));
  schema.add_int("dialog.policy_threads", 2, "Threads running the policy (bot patterns), off the actor threads",
                 config::int_range(1, 64));
  schema.add_int("dialog.max_bots", 1000, "Bots loaded at once (files and uploads)", config::int_range(1, 1'000'000));
  schema.add_duration("dialog.sync_max_interval", 300s, "Failed bot syncs back off up to this",
                      config::duration_range(100ms, 24 * 3600s));
  schema.add_int("dialog.bot_max_bytes", 1 << 20, "Largest bot definition (YAML bytes)", config::int_range(1024, 64 << 20));
  schema.add_int("dialog.bot_max_aliases", 1000, "YAML aliases (*name) in one bot definition", config::int_range(0, 1'000'000));
  schema.add_int("dialog.bot_max_expanded_bytes", 4 << 20,
                 "Text bytes of a bot definition with its YAML aliases expanded (alias amplification guard)",
                 config::int_range(1024, 256 << 20));
  schema.add_int("dialog.bot_max_intents", 500, "Intents in one bot", config::int_range(1, 1'000'000));
  schema.add_int("dialog.bot_max_examples", 20000, "Examples in one bot (all intents)", config::int_range(1, 10'000'000));
  schema.add_int("dialog.bot_max_slots", 200, "Slots (entities) in one bot", config::int_range(0, 1'000'000));
  schema.add_int("dialog.bot_max_slot_values", 20000, "Categorical values + synonyms in one bot", config::int_range(0, 10'000'000));
  schema.add_int("dialog.bot_max_documents", 1000, "Knowledge-base documents in one bot", config::int_range(0, 1'000'000));
  schema.add_int("dialog.bot_max_kb_bytes", 32 << 20, "Knowledge-base text of one bot (bytes)", config::int_range(0, 1 << 30));
  schema.add_int("dialog.lm_max_tokens", 1024,
                 "Largest lm_fallback.max_tokens a bot may ask (keep equal to the LM's lm.max_tokens_limit)",
                 config::int_range(1, 1 << 20));
  schema.add_list("dialog.bot_fine_tune_allow", {"full", "lora"},
                  "NLU fine-tuning modes a bot file may ask for (nlu.fine_tune; each job takes the NLU's cores for "
                  "seconds to minutes); a bot asking for another is refused (403); empty = bots may not ask (the "
                  "NLU's nlu.finetune.mode still applies)",
                  config::one_of({"full", "lora"}));
  schema.add_list("dialog.webhook_allow", {},
                  "Hosts bots' action webhooks may call: host[:port], *.domain, *, or IP/CIDR (which also "
                  "permits internal addresses); empty = webhooks disabled");
  schema.add_bool("dialog.webhook_allow_internal", false,
                  "Let host-name entries of dialog.webhook_allow resolve to internal (private, loopback, "
                  "link-local) addresses, e.g. an in-cluster action server");
  schema.add_int("dialog.webhook_max_body_bytes", 64 << 10, "Largest tracker JSON POSTed to a webhook",
                 config::int_range(1024, 16 << 20));
  schema.add_string("dialog.store", "memory",
                    "Session store: memory (one replica) or redis://host:port[/db][?prefix=P] (replicas share "
                    "sessions); when not set, store.type/store.redis_url decide");
  schema.add_string("store.type", "memory", "Session store kind when dialog.store is not set (the Helm chart sets this)",
                    config::one_of({"memory", "redis"}));
  schema.add_string("store.redis_url", "redis://127.0.0.1:6379", "Redis of the session store when store.type=redis");
  schema.add_duration("store.ttl", 3600s, "Session TTL (the Helm chart's name; overrides dialog.session_ttl when set)",
                      config::duration_range(1s, 365 * 24 * 3600s));
  schema.add_duration("store.timeout", 500ms,
                      "Redis: each store command (connect, get, put) fails after this (the turn answers UNAVAILABLE)",
                      config::duration_range(1ms, 60s));
  schema.add_int("store.threads", 4, "Redis: threads doing store round trips for session actors (= connections)",
                 config::int_range(1, 256));
  schema.add_string("api.keys_file", "",
                    "File with one bearer key per line, or a directory with one key per file (a mounted Secret); "
                    "added to api.keys");
  schema.add_string("dialog.bots_dir", "",
                    "Directory of bot files (*.yaml, */bot.yaml) loaded at start, besides dialog.bots");

  schema.add_list("dialog.asr_targets", {"tcp://127.0.0.1:7105"},
                   "Speech recognition replicas for voice sessions (empty: voice sessions take text only)");
  schema.add_list("dialog.tts_targets", {"tcp://127.0.0.1:7106"},
                  "Speech synthesis replicas for voice sessions (empty: replies as text events only)");
  schema.add_int("voice.max_sessions", 200, "Open voice sessions per replica (more: 503)", config::int_range(0, 100000));
  schema.add_int("voice.max_frame_bytes", 64 << 10, "Largest audio message from a voice client (bigger: closed, 1009)",
                 config::int_range(320, 16 << 20));
  schema.add_int("voice.max_send_buffer_bytes", 1 << 20,
                 "Unsent events and audio per voice connection before a client that does not read is closed (1008)",
                 config::int_range(16 << 10, 256 << 20));
  schema.add_duration("voice.max_duration", 3600s, "A voice session ends after this", config::duration_range(1s, 24 * 3600s));
  schema.add_duration("voice.idle_timeout", 120s, "A voice session with no audio or text for this long ends",
                      config::duration_range(1s, 24 * 3600s));
  schema.add_duration("voice.ping_timeout", 30s, "A voice WebSocket client silent this long (no data, no pong) is gone",
                      config::duration_range(1s, 600s));
  schema.add_duration("voice.playout_lead", 150ms,
                      "Bot audio sent ahead of real time (what a client that ignores `interrupted` still plays after a barge-in)",
                      config::duration_range(20ms, 5s));
  schema.add_duration("voice.barge_in_min_speech", 400ms,
                      "User speech over the bot interrupts it only after this much speech (and words, see next)",
                      config::duration_range(0ms, 10s));
  schema.add_int("voice.barge_in_min_words", 1,
                 "...and only with this many words that are not backchannels (mhm, uh-huh, yeah, ...)", config::int_range(0, 20));
  schema.add_int("voice.tts_parallel", 2, "Synthesis calls of one reply in flight at once", config::int_range(1, 16));
  schema.add_duration("voice.tts_timeout", 15s, "Deadline of one synthesis call", config::duration_range(100ms, 600s));
  schema.add_string("voice.language", "en-US", "Recognition language when the client names none");
  schema.add_string("voice.transport_bind", "",
                    "An extra endpoint serving the transport methods, parley.v1.Dialog/Voice included (transport.bind serves "
                    "them too), e.g. tcp://0.0.0.0:7107 (empty: none)");
  schema.add_int("voice.socket_send_buffer_bytes", 0, "SO_SNDBUF of voice WebSockets (0: the OS default; tests lower it)",
                 config::int_range(0, 64 << 20));

  auto host = service::Host::create("dialog", schema, argc, argv);
  const auto& cfg = host->config();
  dialog::DialogMetrics metrics(host->metrics());

  auto curve = service::curve_settings(cfg);
  if (!curve.ok()) {
    PARLEY_LOG(kError) << "parley-dialog: " << curve.status().to_string();
    return 2;
  }
  dialog::WebhookGuardOptions wo;
  wo.allow = cfg.get_list("dialog.webhook_allow");
  wo.allow_internal = cfg.get_bool("dialog.webhook_allow_internal");
  wo.max_request_bytes = static_cast<std::size_t>(cfg.get_int("dialog.webhook_max_body_bytes"));
  auto guard = dialog::WebhookGuard::create(wo);
  if (!guard.ok()) {
    PARLEY_LOG(kError) << "parley-dialog: " << guard.status().to_string();
    return 2;
  }
  dialog::TransportServicesOptions so;
  so.webhook_guard = *guard;
  so.curve = curve->client;
  so.nlu_targets = cfg.get_list("dialog.nlu_targets");
  so.qa_targets = cfg.get_list("dialog.qa_targets");
  so.lm_targets = cfg.get_list("dialog.lm_targets");
  so.max_wait_for_replica = ms(cfg.get_duration("dialog.max_wait_for_replica"));
  so.replay_timeout = ms(cfg.get_duration("dialog.train_timeout"));
  auto services = dialog::make_transport_services(so);
  if (!services.ok()) {
    PARLEY_LOG(kError) << "parley-dialog: " << services.status().to_string();
    return 2;
  }

  const std::string url = store_url(cfg);
  auto opened = store::open_store(url);
  if (!opened.ok()) {
    PARLEY_LOG(kError) << "parley-dialog: session store: " << opened.status().to_string();
    return 2;
  }
  std::unique_ptr<store::SessionStore> store = std::move(*opened);
  // Redis round trips run on their own threads, never on the actor threads (see SessionDeps).
  std::unique_ptr<actor::ThreadPoolExecutor> store_threads;
  if (!url.starts_with("memory")) {
    store_threads = std::make_unique<actor::ThreadPoolExecutor>(static_cast<std::size_t>(cfg.get_int("store.threads")),
                                                                "store");
  }
  auto* memory_store = dynamic_cast<store::MemoryStore*>(store.get());
  PARLEY_LOG(kInfo).kv("store", store->describe()) << "session store";
  // Uploaded bots are kept beside the sessions (Redis: under their own key prefix), so every
  // replica and a restarted orchestrator have them.
  auto bot_store = store::open_store(bot_store_url(url));
  if (!bot_store.ok()) {
    PARLEY_LOG(kError) << "parley-dialog: bot store: " << bot_store.status().to_string();
    return 2;
  }
  dialog::BotRegistryOptions bo;
  bo.train_timeout = ms(cfg.get_duration("dialog.train_timeout"));
  bo.limits.max_bytes = static_cast<std::size_t>(cfg.get_int("dialog.bot_max_bytes"));
  bo.limits.max_aliases = static_cast<std::size_t>(cfg.get_int("dialog.bot_max_aliases"));
  bo.limits.max_expanded_bytes = static_cast<std::size_t>(cfg.get_int("dialog.bot_max_expanded_bytes"));
  bo.limits.max_intents = static_cast<std::size_t>(cfg.get_int("dialog.bot_max_intents"));
  bo.limits.max_examples = static_cast<std::size_t>(cfg.get_int("dialog.bot_max_examples"));
  bo.limits.max_slots = static_cast<std::size_t>(cfg.get_int("dialog.bot_max_slots"));
  bo.limits.max_slot_values = static_cast<std::size_t>(cfg.get_int("dialog.bot_max_slot_values"));
  bo.limits.max_documents = static_cast<std::size_t>(cfg.get_int("dialog.bot_max_documents"));
  bo.limits.max_kb_bytes = static_cast<std::size_t>(cfg.get_int("dialog.bot_max_kb_bytes"));
  bo.limits.max_lm_tokens = static_cast<int>(cfg.get_int("dialog.lm_max_tokens"));
  bo.max_bots = static_cast<std::size_t>(cfg.get_int("dialog.max_bots"));
  bo.max_bots_per_tenant = static_cast<std::size_t>(cfg.get_int("api.max_bots_per_key"));
  bo.webhook_guard = *guard;
  for (const auto& m : cfg.get_list("dialog.bot_fine_tune_allow")) bo.fine_tune_allow.insert(m);
  bo.store = bot_store->get();
  bo.retry_min = ms(cfg.get_duration("dialog.sync_interval"));
  bo.retry_max = std::max(bo.retry_min, ms(cfg.get_duration("dialog.sync_max_interval")));
  dialog::BotRegistry bots(**services, &metrics, bo);
  actor::ActorSystem system({.name = "dialog", .threads = static_cast<std::size_t>(cfg.get_int("dialog.actor_threads"))});

  dialog::DialogOptions options;
  options.nlu_timeout = ms(cfg.get_duration("dialog.nlu_timeout"));
  options.qa_timeout = ms(cfg.get_duration("dialog.qa_timeout"));
  options.lm_timeout = ms(cfg.get_duration("dialog.lm_timeout"));
  options.turn_timeout = ms(cfg.get_duration("dialog.turn_timeout"));
  options.session_ttl = ms(cfg.get_duration(set_explicitly(cfg, "store.ttl") ? "store.ttl" : "dialog.session_ttl"));
  options.max_history = static_cast<int>(cfg.get_int("dialog.max_history"));
  // Bot content (slot patterns) runs here, never on the actor threads.
  actor::ThreadPoolExecutor policy_threads(static_cast<std::size_t>(cfg.get_int("dialog.policy_threads")), "policy");
  dialog::SessionDeps deps;
  deps.policy_executor = &policy_threads;
  deps.find_bot = [&bots](const std::string& id) { return bots.find(id); };
  deps.bot_needs_sync = [&bots](const std::string& id) { bots.mark_unsynced(id); };
  deps.services = services->get();
  deps.store = store.get();
  deps.store_executor = store_threads.get();
  deps.metrics = &metrics;
  dialog::SessionManager sessions(system, deps, options);

  dialog::ApiOptions api;
  api.host = cfg.get_string("api.address");
  api.port = static_cast<std::uint16_t>(cfg.get_int("api.port"));
  api.threads = static_cast<int>(cfg.get_int("api.threads"));
  for (const auto& entry : cfg.get_list("api.keys")) {
    auto key = dialog::parse_api_key(entry);
    if (!key.ok()) {
      PARLEY_LOG(kError) << "parley-dialog: api.keys: " << key.status().to_string();
      return 2;
    }
    api.keys.push_back(std::move(*key));
  }
  if (!cfg.get_string("api.keys_file").empty()) {
    auto keys = dialog::read_api_keys_file(cfg.get_string("api.keys_file"));
    if (!keys.ok()) {
      PARLEY_LOG(kError) << "parley-dialog: " << keys.status().to_string();
      return 2;
    }
    api.keys.insert(api.keys.end(), keys->begin(), keys->end());
  }
  api.allow_unauthenticated_remote = cfg.get_bool("api.allow_unauthenticated_remote");
  api.max_failed_auth = static_cast<int>(cfg.get_int("api.max_failed_auth"));
  api.max_connections = static_cast<std::size_t>(cfg.get_int("api.max_connections"));
  api.max_connections_per_address = static_cast<std::size_t>(cfg.get_int("api.max_connections_per_address"));
  api.header_timeout = ms(cfg.get_duration("api.header_timeout"));
  api.idle_timeout = ms(cfg.get_duration("api.idle_timeout"));
  api.max_pending_bot_jobs = static_cast<std::size_t>(cfg.get_int("api.max_pending_bot_jobs"));
  api.status_timeout = ms(cfg.get_duration("api.bot_status_timeout"));
  api.rate_limit_rps = cfg.get_double("api.rate_limit_rps");
  api.rate_limit_burst = cfg.get_double("api.rate_limit_burst");
  api.max_body_bytes = static_cast<std::size_t>(cfg.get_int("api.max_body_bytes"));
  api.max_json_bytes = static_cast<std::size_t>(cfg.get_int("api.max_json_bytes"));
  api.max_text_chars = static_cast<std::size_t>(cfg.get_int("api.max_text_chars"));
  // Voice sessions: speech clients (each optional), limits, the gateway both voice transports use.
  dialog::voice::VoiceMetrics voice_metrics(host->metrics());
  std::unique_ptr<dialog::voice::AsrClient> asr;
  std::unique_ptr<dialog::voice::TtsClient> tts;
  if (!cfg.get_list("dialog.asr_targets").empty()) {
    auto c = dialog::voice::make_transport_asr({cfg.get_list("dialog.asr_targets"), "asr", so.max_wait_for_replica, curve->client});
    if (!c.ok()) {
      PARLEY_LOG(kError) << "parley-dialog: " << c.status().to_string();
      return 2;
    }
    asr = std::move(*c);
  }
  if (!cfg.get_list("dialog.tts_targets").empty()) {
    auto c = dialog::voice::make_transport_tts({cfg.get_list("dialog.tts_targets"), "tts", so.max_wait_for_replica, curve->client});
    if (!c.ok()) {
      PARLEY_LOG(kError) << "parley-dialog: " << c.status().to_string();
      return 2;
    }
    tts = std::move(*c);
  }
  dialog::voice::VoiceOptions voice_options;
  voice_options.max_duration = ms(cfg.get_duration("voice.max_duration"));
  voice_options.idle_timeout = ms(cfg.get_duration("voice.idle_timeout"));
  voice_options.playout_lead = ms(cfg.get_duration("voice.playout_lead"));
  voice_options.tts_timeout = ms(cfg.get_duration("voice.tts_timeout"));
  voice_options.tts_parallel = static_cast<int>(cfg.get_int("voice.tts_parallel"));
  voice_options.barge_in.min_speech = ms(cfg.get_duration("voice.barge_in_min_speech"));
  voice_options.barge_in.min_words = static_cast<int>(cfg.get_int("voice.barge_in_min_words"));
  voice_options.default_language = cfg.get_string("voice.language");
  voice_options.max_text_bytes = static_cast<std::size_t>(cfg.get_int("api.max_text_bytes"));
  dialog::VoiceLimits voice_limits;
  voice_limits.max_sessions = static_cast<std::size_t>(cfg.get_int("voice.max_sessions"));
  voice_limits.max_frame_bytes = static_cast<std::size_t>(cfg.get_int("voice.max_frame_bytes"));
  voice_limits.max_send_buffer_bytes = static_cast<std::size_t>(cfg.get_int("voice.max_send_buffer_bytes"));
  voice_limits.ping_timeout = ms(cfg.get_duration("voice.ping_timeout"));
  voice_limits.socket_send_buffer_bytes = static_cast<int>(cfg.get_int("voice.socket_send_buffer_bytes"));
  dialog::VoiceGateway voice(system, sessions, asr.get(), tts.get(), &voice_metrics, voice_options, voice_limits);

  dialog::ApiServer server(api, sessions, bots, &metrics, &voice);
  dialog::register_wire_methods(*host, sessions,
                                {.max_text_bytes = static_cast<std::size_t>(cfg.get_int("api.max_text_bytes"))});
  // Voice calls on the transport hold no worker (Host::stream); a call without a deadline may
  // last as long as a voice session.
  dialog::register_voice_method(*host, voice);
  host->set_default_deadline(voice_options.max_duration);
  if (!cfg.get_string("voice.transport_bind").empty()) host->add_endpoint(cfg.get_string("voice.transport_bind"));

  // Bots validate (and try once to train; a service that is down fails fast) before anything
  // listens: a bot file with errors stops the process — that is a deploy bug, reported in full.
  std::vector<std::string> bot_files = cfg.get_list("dialog.bots");
  if (!cfg.get_string("dialog.bots_dir").empty()) {
    auto more = bot_files_in(cfg.get_string("dialog.bots_dir"));
    if (more.empty()) {
      PARLEY_LOG(kError) << "parley-dialog: dialog.bots_dir " << cfg.get_string("dialog.bots_dir")
                         << " has no bot files (*.yaml, */bot.yaml)";
      return 2;
    }
    // A bots dir replaces the default demo bot; explicit dialog.bots are kept.
    if (!set_explicitly(cfg, "dialog.bots")) bot_files.clear();
    bot_files.insert(bot_files.end(), more.begin(), more.end());
  }
  for (const auto& path : bot_files) {
    auto b = bots.load_file(path);
    if (!b.ok()) {
      PARLEY_LOG(kError) << "parley-dialog: bad bot definition:\n" << b.status().message();
      return 2;
    }
  }
  // Bots uploaded before (on any replica) come back from the store, over the files' versions.
  const std::size_t stored = bots.refresh_from_store();
  if (stored > 0) {
    PARLEY_LOG(kInfo).kv("bots", stored) << "uploaded bots loaded from the store";
  }
  bots.start_sync(ms(cfg.get_duration("dialog.sync_interval")));
  Status api_started = server.start();
  if (!api_started.is_ok()) {
    PARLEY_LOG(kError) << "parley-dialog: public API: " << api_started.to_string();
    return 1;
  }
  PARLEY_LOG(kInfo).kv("api_port", server.port()).kv("bots", bots.list().size()) << "parley-dialog serving";
  std::printf("parley-dialog: API on http://%s:%u\n", server.host().c_str(), static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  // Idle session actors and expired sessions are cleaned up while the host runs.
  std::atomic<bool> running{true};
  std::thread janitor([&] {
    const auto idle = ms(cfg.get_duration("dialog.idle_timeout"));
    while (running) {
      for (int i = 0; i < 50 && running; ++i) std::this_thread::sleep_for(100ms);
      sessions.evict_idle(idle);
      if (memory_store != nullptr) memory_store->sweep();  // Redis expires keys by itself
      // Not ready while the session store does not answer: a load balancer sends turns elsewhere.
      Status health = store->health();
      host->set_ready(health.is_ok(), health.is_ok() ? "" : "session store: " + health.message());
    }
  });
  // SIGTERM: readiness goes false, then the public API stops accepting and its in-flight turns
  // get the rest of service.drain_grace (the chart sets it above dialog.lm_timeout).
  host->on_drain([&server](std::chrono::steady_clock::time_point deadline) {
    server.stop(std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                           deadline - std::chrono::steady_clock::now())));
  });
  int rc = host->run();
  running = false;
  janitor.join();
  // Voice connections end first (their sessions cancel what they started), while the session
  // manager and the actor system they use are still there.
  server.stop();
  // A Train / Ingest in flight to a replica that is itself shutting down would hold the sync
  // thread until dialog.train_timeout; cancel it, then join.
  (*services)->cancel_blocking_calls();
  bots.stop_sync();
  system.shutdown(2s);
  policy_threads.shutdown();
  if (store_threads) store_threads->shutdown();
  return rc;
}
