// Default encoder location and completeness check (see model_dir.h).
#include "shared/encoder/model_dir.h"

#include <cstdlib>
#include <filesystem>

namespace parley::encoder {

std::string default_model_dir() {
  const char* dir = std::getenv("PARLEY_MODEL_DIR");
  std::string root;
  if (dir != nullptr && *dir != '\0') {
    root = dir;
  } else {
    const char* home = std::getenv("HOME");
    root = std::string(home != nullptr ? home : ".") + "/.cache/parley/models";
  }
  return root + "/encoder-minilm";
}

Status check_model_dir(const std::string& dir, const std::string& hint) {
  for (const char* f : {"model.safetensors", "config.json", "vocab.txt"}) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path(dir) / f, ec)) {
      return failed_precondition("encoder model file " + dir + "/" + f + " is missing: run tools/models/fetch (" +
                                 hint + ")");
    }
  }
  return Status::ok();
}

}  // namespace parley::encoder
