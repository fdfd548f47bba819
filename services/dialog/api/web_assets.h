// The chat page files (services/dialog/web/), embedded into the binary at
// build time by cmake/embed_web.cmake so parley-dialog serves them with no install step.
// Depends on nothing; the definition is generated (build dir: web_assets.cc).
#pragma once

#include <cstddef>
#include <string_view>

namespace parley::dialog {

struct WebAsset {
  std::string_view name;          ///< path under web/: "index.html", "chat.js"
  std::string_view content_type;  ///< from the extension
  std::string_view data;
};

/// Every embedded file; empty when web/ had no files at build time.
const WebAsset* web_assets(std::size_t* count);

}  // namespace parley::dialog
