// Fuzz target: JSON from outside — the strict RFC 8259 parser (json_document.h: API bodies are
// checked with it, model files read with it) and then, as the public API does, protobuf's JSON
// mapping into the request messages; and quoting of the strings back (append_json_string must
// always produce valid JSON and valid UTF-8). Depends on shared/common, parley_proto.
#include <google/protobuf/util/json_util.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "parley/v1/dialog.pb.h"
#include "shared/common/json.h"
#include "shared/common/json_document.h"
#include "shared/common/utf8.h"

namespace {

void walk(const parley::json::Value& v, int depth) {
  if (depth > 70) __builtin_trap();  // ParseOptions::max_depth must have stopped it
  switch (v.type()) {
    case parley::json::Type::kString: {
      if (!parley::valid_utf8(v.as_string())) __builtin_trap();  // the parser only accepts UTF-8
      std::string quoted;
      parley::append_json_string(quoted, v.as_string());
      auto back = parley::json::parse(quoted);
      if (!back.ok() || back->as_string() != v.as_string()) __builtin_trap();  // quoting round-trips
      break;
    }
    case parley::json::Type::kArray:
      for (const auto& x : v.as_array()) walk(x, depth + 1);
      break;
    case parley::json::Type::kObject:
      for (const auto& [k, x] : v.as_object()) walk(x, depth + 1);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  parley::json::ParseOptions strict;
  strict.max_depth = 32;
  auto doc = parley::json::parse(text, strict);
  if (!doc.ok()) return 0;
  walk(*doc, 0);
  // What the API does next with a strict-valid body.
  google::protobuf::util::JsonParseOptions o;
  parley::v1::TurnRequest turn;
  (void)google::protobuf::util::JsonStringToMessage(text, &turn, o);
  parley::v1::CreateSessionRequest create;
  (void)google::protobuf::util::JsonStringToMessage(text, &create, o);
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(create, &out);
  return 0;
}
