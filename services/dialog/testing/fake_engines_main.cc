// parley-fake-engines: the model-free NLU, QA and LM of the dialog tests (fake_services.h) as one
// process, so tests outside C++ (the OpenAPI contract test, the Python client's tests) run a real
// parley-dialog without models. Not a product: intents are keyword overlap, the LM is canned.
// Depends on fake_services.h.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "services/dialog/testing/fake_services.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  // kind -> endpoint; the defaults are the ports tools/run gives the real services.
  std::vector<std::pair<std::string, std::string>> binds = {
      {"nlu", "tcp://127.0.0.1:7102"}, {"qa", "tcp://127.0.0.1:7103"}, {"lm", "tcp://127.0.0.1:7104"}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    if ((a == "--nlu" || a == "--qa" || a == "--lm") && !value.empty()) {
      for (auto& [kind, endpoint] : binds) {
        if ("--" + kind == a) endpoint = value;
      }
      ++i;
    } else {
      std::fprintf(stderr,
                   "usage: parley-fake-engines [--nlu tcp://127.0.0.1:7102] [--qa tcp://127.0.0.1:7103] "
                   "[--lm tcp://127.0.0.1:7104]\n"
                   "  serves keyword-overlap parley.v1.Nlu, word-overlap parley.v1.Qa and a canned parley.v1.Lm\n"
                   "  (tests only; prints 'KIND ENDPOINT' per service, ports read back when bound to :*;\n"
                   "  'none' serves no such service)\n");
      return 2;
    }
  }
  std::vector<std::unique_ptr<parley::dialog::testing::FakeServiceServer>> servers;
  for (const auto& [kind, endpoint] : binds) {
    if (endpoint == "none") continue;  // served by a real process (e.g. parley-nlu)
    auto s = parley::dialog::testing::FakeServiceServer::start(kind, endpoint);
    if (!s.ok()) {
      std::fprintf(stderr, "parley-fake-engines: %s on %s: %s\n", kind.c_str(), endpoint.c_str(),
                   s.status().to_string().c_str());
      return 1;
    }
    std::printf("%s %s\n", kind.c_str(), (*s)->endpoint().c_str());
    servers.push_back(std::move(*s));
  }
  std::fflush(stdout);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}
