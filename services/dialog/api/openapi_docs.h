// The API's own reference: the OpenAPI document (services/dialog/openapi.yaml, embedded at build
// time) as YAML and as JSON, so the reference page (web/docs.html) needs no YAML parser and no
// asset from outside the binary. Depends on web_assets.h; yaml-cpp in the .cc.
#pragma once

#include <string>
#include <string_view>

#include "shared/common/status.h"

namespace parley::dialog {

/// The embedded openapi.yaml ("" when the binary was built without it).
std::string_view openapi_yaml();

/// A YAML document as JSON: mappings → objects (keys as strings), sequences → arrays, quoted
/// scalars → strings, plain scalars → true/false/null/numbers when they read as such, else
/// strings. INVALID_ARGUMENT naming the line on a YAML error. Anchors/aliases are expanded.
Result<std::string> yaml_to_json(std::string_view yaml);

/// openapi_yaml() as JSON, converted once (thread-safe); the error when the embedded document
/// does not parse (a build from a broken openapi.yaml).
const Result<std::string>& openapi_json();

}  // namespace parley::dialog
