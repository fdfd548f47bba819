// Headless Chromium driven over the Chrome DevTools Protocol (CDP): start the browser with a temp
// profile, attach to its page over a WebSocket, evaluate JavaScript, type, take screenshots.
// Exists for the web chat's browser test. Depends on tests/support, Boost.Beast, protobuf Struct.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "shared/common/status.h"
#include "tests/support/process.h"

namespace parley::testing {

/// "" when no Chromium binary exists: $PARLEY_CHROMIUM, else /usr/bin/chromium,
/// /usr/bin/chromium-browser, /usr/bin/google-chrome.
std::string chromium_binary();

/// One CDP session on one page target. Synchronous: call() sends a command and reads messages
/// until its reply; events read meanwhile are kept (events()). Not thread-safe.
class CdpSession {
 public:
  ~CdpSession();
  /// Connects to ws://host:port/path.
  static Result<std::unique_ptr<CdpSession>> connect(const std::string& host, int port,
                                                     const std::string& path);
  /// Sends {"method":..,"params":..} and returns the reply's "result" (error → Status with
  /// CDP's message). `params_json` is a JSON object text.
  Result<google::protobuf::Struct> call(const std::string& method, const std::string& params_json = "{}",
                                        std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// Evaluates `expression` in the page (promises awaited) and returns the value as JSON text.
  /// A thrown exception becomes an error Status with its description.
  Result<std::string> evaluate(const std::string& expression);
  /// Polls `expression` (a JS boolean) every 50 ms until true; false at the timeout.
  bool wait_for(const std::string& expression, std::chrono::milliseconds timeout);
  /// Method names of the events received so far ("Runtime.exceptionThrown", ...) with params JSON.
  const std::vector<std::pair<std::string, std::string>>& events() const { return events_; }

 private:
  struct Impl;
  explicit CdpSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int next_id_ = 1;
  std::vector<std::pair<std::string, std::string>> events_;
};

/// A headless Chromium process with its own temp profile; killed by the destructor.
///
///   auto browser = HeadlessChromium::start(dir);
///   auto page = (*browser)->open_page();          // the initial about:blank tab
///   (*page)->call("Page.navigate", R"({"url":"http://127.0.0.1:8080/"})");
class HeadlessChromium {
 public:
  /// Starts the browser (window 1280×800); waits for its DevTools port. `work_dir` holds the
  /// profile and the browser log; `extra_args` are added to the command line (a fake microphone:
  /// --use-fake-device-for-media-stream --use-file-for-fake-audio-capture=FILE.wav).
  static Result<std::unique_ptr<HeadlessChromium>> start(const std::string& work_dir,
                                                          const std::vector<std::string>& extra_args = {});
  /// Attaches to the first page target.
  Result<std::unique_ptr<CdpSession>> open_page();
  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  std::unique_ptr<ChildProcess> process_;
  int devtools_port_ = 0;
};

/// JSON text of a string (for building CDP params).
std::string json_quote(const std::string& s);
/// Decodes standard base64 (screenshots); INVALID_ARGUMENT on a bad character.
Result<std::string> base64_decode(const std::string& in);

}  // namespace parley::testing
