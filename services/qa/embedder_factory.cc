// Embedder selection.
#include "services/qa/embedder_factory.h"

#include <cstdlib>
#include <filesystem>

namespace parley::qa {

std::string default_encoder_dir() {
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

Result<std::shared_ptr<const Embedder>> make_embedder(const std::string& kind, const std::string& encoder_dir,
                                                     int threads) {
  (void)threads;
  if (kind == "hash") return std::shared_ptr<const Embedder>(std::make_shared<HashEmbedder>(256));
  if (kind != "encoder") return invalid_argument("qa.embedder must be 'encoder' or 'hash', got '" + kind + "'");
  std::string dir = encoder_dir.empty() ? default_encoder_dir() : encoder_dir;
  for (const char* f : {"model.safetensors", "config.json", "vocab.txt"}) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path(dir) / f, ec)) {
      return failed_precondition("encoder model file " + dir + "/" + f +
                                 " is missing: run tools/models/fetch (or set qa.encoder_dir / PARLEY_MODEL_DIR, "
                                 "or --qa.embedder=hash for the lexical stand-in)");
    }
  }
  return unimplemented("the MiniLM encoder (shared/encoder) is not built into this binary yet; use --qa.embedder=hash");
}

}  // namespace parley::qa
