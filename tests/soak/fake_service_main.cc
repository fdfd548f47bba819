// parley-fake-service: one model-free fake NLU, QA or LM (services/dialog/testing) as a process
// of its own, so the soak test can kill and restart a service the dialog depends on.
// Usage: parley-fake-service nlu|qa|lm tcp://127.0.0.1:PORT   (runs until SIGTERM/SIGINT)
// Depends on parley_dialog_testing. Test-only.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "services/dialog/testing/fake_services.h"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: parley-fake-service nlu|qa|lm ENDPOINT\n");
    return 2;
  }
  auto server = parley::dialog::testing::FakeServiceServer::start(argv[1], argv[2]);
  if (!server.ok()) {
    std::fprintf(stderr, "parley-fake-service: %s\n", server.status().to_string().c_str());
    return 1;
  }
  std::printf("parley-fake-service %s on %s\n", argv[1], (*server)->endpoint().c_str());
  std::fflush(stdout);
  ::signal(SIGTERM, on_signal);
  ::signal(SIGINT, on_signal);
  while (!g_stop.load()) ::usleep(50'000);
  return 0;
}
