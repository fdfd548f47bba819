// The OpenAPI document as YAML and JSON (see openapi_docs.h). Depends on web_assets.h, yaml-cpp,
// shared/http (JSON string escaping).
#include "services/dialog/api/openapi_docs.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <regex>

#include "services/dialog/api/web_assets.h"
#include "shared/http/message.h"

namespace parley::dialog {
namespace {

bool plain_number(const std::string& s) {
  // JSON's number grammar (YAML 1.2 core schema ints/floats in JSON form; no .inf/.nan, no 0x).
  static const std::regex kNumber(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
  return std::regex_match(s, kNumber);
}

void write(const YAML::Node& n, std::string& out, int depth) {
  if (depth > 64) throw YAML::Exception(n.Mark(), "nested deeper than 64 levels");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out += "null";
      return;
    case YAML::NodeType::Scalar: {
      const std::string& v = n.Scalar();
      if (n.Tag() != "!") {  // "!" = a quoted (non-plain) scalar: always a string
        if (v == "true" || v == "false" || v == "null") {
          out += v;
          return;
        }
        if (v == "~") {
          out += "null";
          return;
        }
        if (plain_number(v)) {
          out += v;
          return;
        }
      }
      http::append_json_string(out, v);
      return;
    }
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (const auto& item : n) {
        if (!first) out += ',';
        first = false;
        write(item, out, depth + 1);
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Map: {
      out += '{';
      bool first = true;
      for (const auto& kv : n) {
        if (!first) out += ',';
        first = false;
        http::append_json_string(out, kv.first.Scalar());
        out += ':';
        write(kv.second, out, depth + 1);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

std::string_view openapi_yaml() {
  std::size_t n = 0;
  const WebAsset* assets = web_assets(&n);
  for (std::size_t i = 0; i < n; ++i) {
    if (assets[i].name == "openapi.yaml") return assets[i].data;
  }
  return {};
}

Result<std::string> yaml_to_json(std::string_view yaml) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    std::string out;
    write(root, out, 0);
    return out;
  } catch (const YAML::Exception& e) {
    return invalid_argument("YAML line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

const Result<std::string>& openapi_json() {
  static const Result<std::string> kJson = [] {
    std::string_view yaml = openapi_yaml();
    if (yaml.empty()) return Result<std::string>(not_found("openapi.yaml was not built into this binary"));
    return yaml_to_json(yaml);
  }();
  return kJson;
}

}  // namespace parley::dialog
