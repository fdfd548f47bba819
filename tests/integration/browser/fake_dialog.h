// FakeDialog: a stand-in for parley-dialog's public API (canned bots, sessions and turns, a
// streamed turn over SSE that pauses mid-stream until the test releases it) that also serves the
// real web page files. Exists so the page is tested in a browser independently of the
// orchestrator. Depends on shared/http.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "shared/http/server.h"

namespace parley::testing {

/// Canned answers by user text: "hello" (greet), "book a table for 4 at 7pm" (form, two slots),
/// "when is breakfast" (QA answer with a source), "tell me a joke" (LM reply streamed token by
/// token; the stream holds after the first tokens until release_stream()), "break" (503).
/// Threading: the server's I/O threads serve; the accessors are thread-safe.
class FakeDialog {
 public:
  explicit FakeDialog(std::string web_dir);
  ~FakeDialog();
  Status start();
  int port() const { return server_.port(); }
  /// Lets a held stream send its remaining tokens and the final turn.
  void release_stream();
  int stream_requests() const { return stream_requests_.load(); }
  int plain_turn_requests() const { return plain_turn_requests_.load(); }

 private:
  http::Response file(const std::string& name, const std::string& type) const;
  std::string turn_json(const std::string& session, const std::string& text);

  std::string web_dir_;
  http::Server server_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int turns_ = 0;
  std::atomic<int> stream_requests_{0};
  std::atomic<int> plain_turn_requests_{0};
};

}  // namespace parley::testing
