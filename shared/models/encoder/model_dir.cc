// Encoder model directory completeness check (see model_dir.h).
#include "shared/models/encoder/model_dir.h"

#include <filesystem>

namespace parley::encoder {

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
