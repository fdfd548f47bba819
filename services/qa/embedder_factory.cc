// Embedder selection.
#include "services/qa/embedder_factory.h"

#include <utility>

#include "kernels/cpu/thread_pool.h"
#include "shared/models/encoder/encoder.h"
#include "shared/common/model_paths.h"
#include "shared/models/encoder/model_dir.h"

namespace parley::qa {
namespace {

// The MiniLM sentence encoder behind QA's Embedder interface. Owns its own kernel thread pool so
// `qa.encoder_threads` bounds what retrieval takes from the other services on the host.
class EncoderEmbedder final : public Embedder {
 public:
  EncoderEmbedder(std::shared_ptr<const encoder::Encoder> encoder, std::unique_ptr<kernels::ThreadPool> pool)
      : pool_(std::move(pool)), encoder_(std::move(encoder)) {}
  int dim() const override { return encoder_->dim(); }
  std::string name() const override {
    return "minilm-" + std::string(encoder::precision_name(encoder_->model().precision()));
  }
  Result<Embeddings> embed(const std::vector<std::string>& texts) const override {
    PARLEY_ASSIGN_OR_RETURN(encoder::Embeddings e, encoder_->embed(texts));
    return Embeddings{e.dim, std::move(e.data)};
  }

 private:
  std::unique_ptr<kernels::ThreadPool> pool_;  // declared first: encoder_'s sessions point at it
  std::shared_ptr<const encoder::Encoder> encoder_;
};

}  // namespace

Result<std::shared_ptr<const Embedder>> make_embedder(const std::string& kind, const std::string& encoder_dir,
                                                     int threads, engine::Device device) {
  if (kind == "hash") return std::shared_ptr<const Embedder>(std::make_shared<HashEmbedder>(256));
  if (kind != "encoder") return invalid_argument("qa.embedder must be 'encoder' or 'hash', got '" + kind + "'");
  std::string dir = encoder_dir.empty() ? parley::default_encoder_dir() : encoder_dir;
  PARLEY_RETURN_IF_ERROR(encoder::check_model_dir(
      dir, "or set qa.encoder_dir / PARLEY_MODEL_DIR, or --qa.embedder=hash for the lexical stand-in"));
  auto pool = std::make_unique<kernels::ThreadPool>(threads < 1 ? 1 : threads);
  encoder::EncoderOptions options;
  options.session.threads = pool.get();
  options.load.device = device;
  auto enc = encoder::Encoder::open(dir, options);
  if (!enc.ok()) return enc.status().with_context("loading the QA encoder from " + dir);
  return std::shared_ptr<const Embedder>(std::make_shared<EncoderEmbedder>(std::move(*enc), std::move(pool)));
}

}  // namespace parley::qa
