// parley: the command-line client for a running Parley platform.
// Exists so a person (and the run command's sample request) can reach any service by hand.
// Subcommands: echo (call the echo service), keygen (CURVE keypair files), chat (talk to a bot),
// talk (a voice session with a bot), bot (validate a bot, run its conversation tests), lm (generate text), model (inspect / quantize / prune a GGUF
// file), transcribe (speech to text), say (speak a text to a WAV);
// the commands of a service live in its folder (services/<svc>/cli) and are dispatched from here.
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "parley/v1/echo.pb.h"
#include "parley/v1/envelope.pb.h"
#include "shared/transport/client.h"
#include "shared/transport/curve.h"
#include "services/asr/cli/transcribe_command.h"
#include "services/dialog/cli/bot_command.h"
#include "services/dialog/cli/chat_command.h"
#include "services/dialog/cli/talk_command.h"
#include "services/lm/cli/lm_command.h"
#include "shared/models/llama/inspect_command.h"
#include "services/tts/cli/say_command.h"

namespace {

int usage() {
  std::cerr << "usage:\n"
               "  parley echo [--target tcp://127.0.0.1:7101] [--timeout-ms N] [--repeat N] TEXT\n"
               "  parley keygen SECRET_FILE PUBLIC_FILE\n"
               "  parley chat [--bot demo] [--url http://127.0.0.1:8080] [--key KEY] [--verbose]\n"
            << parley::dialog::talk_command_usage() << parley::dialog::bot_command_usage() <<
               "  parley model inspect FILE.gguf | quantize IN.gguf OUT.gguf | prune IN.gguf OUT.gguf\n"
            << parley::lm::lm_command_usage() << parley::asr::transcribe_command_usage() << parley::tts::say_command_usage();
  return 2;
}

int run_echo(const std::vector<std::string>& args) {
  std::string target = "tcp://127.0.0.1:7101";
  std::string text;
  int timeout_ms = 5000;
  int repeat = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        std::cerr << "parley echo: " << a << " needs a value\n";
        std::exit(2);
      }
      return args[++i];
    };
    if (a == "--target") {
      target = value();
    } else if (a == "--timeout-ms") {
      timeout_ms = std::atoi(value().c_str());
    } else if (a == "--repeat") {
      repeat = std::atoi(value().c_str());
    } else {
      text += (text.empty() ? "" : " ") + a;
    }
  }
  parley::transport::ClientOptions options;
  options.targets = {target};
  options.max_wait_for_replica = std::chrono::milliseconds(timeout_ms);
  auto client = parley::transport::Client::create(options);
  if (!client.ok()) {
    std::cerr << "parley echo: " << client.status().to_string() << "\n";
    return 1;
  }
  parley::v1::EchoRequest request;
  request.set_text(text);
  request.set_repeat(repeat);
  parley::v1::Envelope env;
  env.set_method(repeat > 0 ? "parley.v1.Echo/Stream" : "parley.v1.Echo/Echo");
  env.mutable_payload()->PackFrom(request);
  parley::transport::CallOptions call;
  call.timeout = std::chrono::milliseconds(timeout_ms);
  call.idempotent = true;
  if (repeat == 0) {
    auto reply = (*client)->call_sync(env, call);
    if (!reply.ok()) {
      std::cerr << "parley echo: " << reply.status().to_string() << "\n";
      return 1;
    }
    parley::v1::EchoReply out;
    if (!reply->payload().UnpackTo(&out)) {
      std::cerr << "parley echo: reply is not an EchoReply\n";
      return 1;
    }
    std::cout << out.text() << "  (replica " << reply->replica() << ")\n";
    return 0;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int rc = 0;
  (*client)->call(env, call, [&](parley::Result<parley::v1::Envelope> reply) {
    std::lock_guard lock(mu);
    if (!reply.ok()) {
      std::cerr << "parley echo: " << reply.status().to_string() << "\n";
      rc = 1;
      done = true;
    } else {
      parley::v1::EchoReply out;
      if (reply->payload().UnpackTo(&out) && reply->has_payload()) std::cout << out.index() << ": " << out.text() << "\n";
      if (reply->end_of_stream()) done = true;
    }
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  return rc;
}

int run_keygen(const std::vector<std::string>& args) {
  if (args.size() != 2) return usage();
  auto keys = parley::transport::generate_curve_key_files(args[0], args[1]);
  if (!keys.ok()) {
    std::cerr << "parley keygen: " << keys.status().to_string() << "\n";
    return 1;
  }
  std::cout << "wrote " << args[0] << " (keep secret) and " << args[1] << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "echo") return run_echo(args);
  if (cmd == "keygen") return run_keygen(args);
  if (cmd == "chat") return parley::dialog::run_chat_command(args);
  if (cmd == "talk") return parley::dialog::run_talk_command(args);
  if (cmd == "bot") return parley::dialog::run_bot_command(args, std::cout, std::cerr);
  if (cmd == "lm") return parley::lm::run_lm_command(args);
  if (cmd == "say") return parley::tts::run_say_command(args, std::cout, std::cerr);
  if (cmd == "model") return parley::llama::run_model_command(args);
  if (cmd == "transcribe") return parley::asr::run_transcribe_command(args);
  if (cmd == "-h" || cmd == "--help") {
    usage();
    return 0;
  }
  std::cerr << "parley: unknown command '" << cmd << "'\n";
  return usage();
}
