// `parley chat` (see chat_command.h): a read-eval loop over the API (api_call.h).
// Depends on api_call.h, protobuf JSON, dialog.proto.
#include "services/dialog/cli/chat_command.h"

#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/cli/api_call.h"

namespace parley::dialog {
namespace {

int usage() {
  std::cerr << "usage: parley chat [--bot demo] [--url http://127.0.0.1:8080] [--key API_KEY] [--verbose]\n"
               "  Type a line and press Enter; /quit or end of input leaves.\n";
  return 2;
}

}  // namespace

int run_chat_command(std::vector<std::string> args) {
  std::string bot = "demo", url = "http://127.0.0.1:8080", key;
  bool verbose = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& dst) {
      if (i + 1 >= args.size()) return false;
      dst = args[++i];
      return true;
    };
    if (a == "--bot") {
      if (!value(bot)) return usage();
    } else if (a == "--url") {
      if (!value(url)) return usage();
    } else if (a == "--key") {
      if (!value(key)) return usage();
    } else if (a == "--verbose" || a == "-v") {
      verbose = true;
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::cerr << "parley chat: unknown argument '" << a << "'\n";
      return usage();
    }
  }
  ApiTarget api;
  std::string error;
  if (!parse_api_url(url, api, error)) {
    std::cerr << "parley chat: " << error << "\n";
    return 2;
  }
  api.key = key;
  ApiReply r;
  if (!api_call(api, "POST", "/v1/bots/" + bot + "/sessions", "", r, error)) {
    std::cerr << "parley chat: cannot reach " << url << ": " << error << " (is parley-dialog running?)\n";
    return 1;
  }
  if (r.status != 201) {
    std::cerr << "parley chat: could not start a session (HTTP " << r.status << "): " << r.body << "\n";
    return 1;
  }
  v1::Session session;
  google::protobuf::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  (void)google::protobuf::util::JsonStringToMessage(r.body, &session, lenient);
  std::cout << "Chatting with bot '" << bot << "' (session " << session.id() << "). /quit to leave.\n";
  std::string line;
  while (std::cout << "you> " << std::flush, std::getline(std::cin, line)) {
    if (line == "/quit" || line == "/exit") break;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    v1::TurnRequest req;
    req.set_text(line);
    std::string body;
    (void)google::protobuf::util::MessageToJsonString(req, &body);
    if (!api_call(api, "POST", "/v1/sessions/" + session.id() + "/turns", body, r, error)) {
      std::cerr << "parley chat: " << error << "\n";
      return 1;
    }
    if (r.status != 200) {
      std::cout << "[error HTTP " << r.status << "] " << r.body << "\n";
      continue;
    }
    v1::TurnResponse turn;
    (void)google::protobuf::util::JsonStringToMessage(r.body, &turn, lenient);
    for (const auto& m : turn.messages()) {
      std::cout << "bot> " << m.text() << "\n";
      for (const auto& s : m.sources()) std::cout << "     [source: " << s.title() << " (" << s.document_id() << ")]\n";
    }
    if (verbose) {
      std::cout << "     intent=" << turn.intent().name() << " (" << turn.intent().confidence() << ") outcome=" << turn.outcome();
      for (const auto& [k, v] : turn.session_slots()) std::cout << " " << k << "=" << v;
      for (const auto& t : turn.timings()) {
        if (t.stage() == "total") std::cout << " total=" << t.duration_us() / 1000.0 << "ms";
      }
      std::cout << "\n";
    }
  }
  std::cout << "\n";
  return 0;
}

}  // namespace parley::dialog
