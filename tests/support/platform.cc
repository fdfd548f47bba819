// Platform (see platform.h): starts the backing services in parallel (each model loads while the
// others do), waits for each /readyz, then parley-dialog, then the demo bot's training.
// Depends on platform.h, tests/support/net.h, services/dialog/testing/fake_services.h.
#include "tests/support/platform.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "services/dialog/testing/fake_services.h"
#include "tests/support/net.h"

namespace parley::testing {
namespace {

using namespace std::chrono_literals;

std::string tail(const std::string& s, std::size_t n = 3000) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

}  // namespace

bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0';
}

Platform::~Platform() {
  // The dialog first (it holds streams to the others), then the services: SIGTERM, a grace
  // period, then the ChildProcess destructor's SIGKILL.
  if (dialog_) {
    dialog_->terminate();
    (void)dialog_->wait_for(5s);
    dialog_.reset();
  }
  for (auto& [kind, s] : services_) {
    if (s.process) s.process->terminate();
  }
  for (auto& [kind, s] : services_) {
    if (s.process) (void)s.process->wait_for(5s);
  }
  services_.clear();
}

std::string Platform::endpoint(const std::string& kind) const {
  auto it = services_.find(kind);
  return it == services_.end() ? "" : it->second.endpoint;
}

int Platform::http_port(const std::string& kind) const {
  if (kind == "dialog") return dialog_http_port_;
  auto it = services_.find(kind);
  return it == services_.end() ? 0 : it->second.http_port;
}

std::string Platform::logs() const {
  std::string out;
  for (const auto& [kind, s] : services_) {
    if (s.process) out += "---- parley-" + kind + " (" + s.process->log_path() + ")\n" + tail(s.process->log()) + "\n";
  }
  if (dialog_) out += "---- parley-dialog (" + dialog_->log_path() + ")\n" + tail(dialog_->log()) + "\n";
  return out;
}

std::unique_ptr<Platform> Platform::start(const PlatformOptions& options) {
  std::unique_ptr<Platform> p(new Platform);
  p->dir_ = options.dir.empty() ? make_temp_dir("parley-platform") : options.dir;
  std::filesystem::create_directories(p->dir_);
  auto extra = [&](const std::string& kind) {
    auto it = options.extra_args.find(kind);
    return it == options.extra_args.end() ? std::vector<std::string>{} : it->second;
  };
  // Ports and endpoints first (QA is told the LM's), then every real process at once.
  const std::vector<std::pair<std::string, Backing>> kinds = {
      {"asr", options.asr}, {"nlu", options.nlu}, {"lm", options.lm}, {"tts", options.tts}, {"qa", options.qa}};
  for (const auto& [kind, backing] : kinds) {
    if (backing == Backing::kOff) continue;
    Service& s = p->services_[kind];
    if (backing == Backing::kFake) {
      auto f = dialog::testing::FakeServiceServer::start(kind);
      if (!f.ok()) {
        p->missing_ += "fake " + kind + ": " + f.status().to_string() + "\n";
        continue;
      }
      s.fake = std::move(*f);
      s.endpoint = s.fake->endpoint();
    } else {
      s.endpoint = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
      s.http_port = free_tcp_port();
    }
  }
  for (const auto& [kind, backing] : kinds) {
    if (backing != Backing::kReal) continue;
    Service& s = p->services_[kind];
    const std::string bin = built_binary("services/" + kind + "/parley-" + kind);
    if (::access(bin.c_str(), X_OK) != 0) {
      p->missing_ += "parley-" + kind + ": " + bin + " is not built\n";
      continue;
    }
    std::vector<std::string> argv = {bin, "--transport.bind=" + s.endpoint, "--http.port=" + std::to_string(s.http_port)};
    if (kind == "qa") argv.push_back("--qa.lm_target=" + p->endpoint("lm"));
    for (auto& a : extra(kind)) argv.push_back(a);
    s.process = std::make_unique<ChildProcess>(argv, p->dir_ + "/" + kind + ".log");
  }
  const auto deadline = std::chrono::steady_clock::now() + options.ready_timeout;
  for (auto& [kind, s] : p->services_) {
    if (!s.process) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const bool ready = wait_until(
        [&] {
          if (!s.process->running()) return true;
          auto r = http_get(s.http_port, "/readyz");
          return r.ok() && r->status == 200;
        },
        std::max(left, std::chrono::milliseconds(1)));
    if (!ready || !s.process->running()) {
      p->missing_ += "parley-" + kind + " did not get ready (model missing? run tools/models/fetch --for tests); log:\n" +
                     tail(s.process->log(), 1500) + "\n";
      s.process.reset();
    }
  }
  if (!p->missing_.empty()) return p;

  p->api_port_ = free_tcp_port();
  p->dialog_http_port_ = free_tcp_port();
  const std::string bot = options.bot_file.empty() ? std::string(PARLEY_SOURCE_DIR) + "/services/dialog/bots/demo/bot.yaml"
                                                   : options.bot_file;
  std::vector<std::string> argv = {built_binary("services/dialog/parley-dialog"),
                                   "--api.port=" + std::to_string(p->api_port_),
                                   "--http.port=" + std::to_string(p->dialog_http_port_),
                                   "--transport.bind=tcp://127.0.0.1:" + std::to_string(free_tcp_port()),
                                   "--dialog.bots=" + bot,
                                   "--dialog.nlu_targets=" + p->endpoint("nlu"),
                                   "--dialog.qa_targets=" + p->endpoint("qa"),
                                   "--dialog.lm_targets=" + p->endpoint("lm"),
                                   "--dialog.asr_targets=" + p->endpoint("asr"),
                                   "--dialog.tts_targets=" + p->endpoint("tts"),
                                   "--dialog.sync_interval=1s",
                                   "--dialog.train_timeout=120s",
                                   "--dialog.lm_timeout=120s"};
  for (auto& a : extra("dialog")) argv.push_back(a);
  if (::access(argv[0].c_str(), X_OK) != 0) {
    p->missing_ += "parley-dialog: " + argv[0] + " is not built\n";
    return p;
  }
  p->dialog_ = std::make_unique<ChildProcess>(argv, p->dir_ + "/dialog.log");
  const std::string bot_id = std::filesystem::path(bot).parent_path().filename().string();
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  p->ready_ = wait_until(
      [&] {
        if (!p->dialog_->running()) return true;
        auto r = http_get(p->api_port_, "/v1/bots/" + bot_id);
        return r.ok() && r->status == 200 && r->body.find("\"nluTrained\":true") != std::string::npos &&
               r->body.find("\"kbIngested\":true") != std::string::npos;
      },
      std::max(left, std::chrono::milliseconds(1)));
  p->ready_ = p->ready_ && p->dialog_->running();
  return p;
}

}  // namespace parley::testing
