// LinearLayer: scores = W x + sum of sparse feature rows + b, with feature standardization and an
// Adam optimizer (lazy for sparse rows). Why: the intent head and the slot tagger's emission
// scores are the same model shape; one tested implementation serves both.
// Depends on kernels/ (float GEMM of the CPU backend's table: host-side heads).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/common/status.h"

namespace parley::nlu {

/// Feature strings -> ids, grown during training, frozen afterwards (unknown features are dropped).
class FeatureDict {
 public:
  /// Id of `feature`, adding it when `grow` (training); -1 when unknown and not growing.
  int id(const std::string& feature, bool grow);
  int find(const std::string& feature) const;
  std::size_t size() const { return ids_.size(); }

 private:
  std::unordered_map<std::string, int> ids_;
};

/// Per-dimension mean and inverse standard deviation, fitted on training rows.
struct Standardizer {
  std::vector<float> mean, inv_std;
  void fit(const std::vector<float>& rows, std::size_t dim);
  /// Streaming fit: begin(dim), add() any number of row blocks, end().
  void begin(std::size_t dim);
  void add(const float* rows, std::size_t count);
  void end();
  /// In place, `count` rows of dim floats.
  void apply(float* rows, std::size_t count) const;

 private:
  std::vector<double> sum_, sum2_;
  std::size_t n_ = 0;
};

/// A batch of inputs: `count` dense rows (already standardized) and each row's sparse ids.
struct LinearBatch {
  std::size_t count = 0;
  std::vector<float> dense;              ///< [count, dense_dim]
  std::vector<std::vector<int>> sparse;  ///< [count][...] feature ids
};

struct AdamOptions {
  float learning_rate = 0.01f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float l2 = 1e-5f;  ///< weight decay on W and sparse rows (not the bias)
};

/// Not thread-safe while training; score() is const and thread-safe afterwards.
///
///   LinearLayer layer(outputs, dense_dim, sparse_features);
///   layer.score(batch, scores);                 // scores: [count, outputs]
///   ... d_scores = dLoss/dscores ...
///   layer.update(batch, d_scores, adam, lr);    // one Adam step on this batch's gradient
class LinearLayer {
 public:
  LinearLayer() = default;
  LinearLayer(int outputs, int dense_dim, std::size_t sparse_features);

  /// scores[count, outputs]; uses the float GEMM of kernels/ (all cores of the global pool).
  Status score(const LinearBatch& batch, std::vector<float>& scores) const;
  /// One Adam step with the gradient of the loss w.r.t. the scores ([count, outputs]).
  Status update(const LinearBatch& batch, const std::vector<float>& d_scores, const AdamOptions& adam, float lr);

  /// Frees the optimizer state (the layer only scores afterwards; update() must not be called).
  void finish_training();

  int outputs() const { return outputs_; }
  int dense_dim() const { return dense_dim_; }
  std::size_t bytes() const { return (w_.size() + v_.size() + b_.size()) * sizeof(float); }

 private:
  int outputs_ = 0;
  int dense_dim_ = 0;
  std::vector<float> w_;  // [outputs, dense_dim]
  std::vector<float> v_;  // [sparse, outputs]
  std::vector<float> b_;  // [outputs]
  // Adam state (cleared by shrink_to_fit after training would save memory; kept for retraining).
  std::vector<float> mw_, vw_, mv_, vv_, mb_, vb_;
  std::vector<float> grad_w_, grad_t_;
  std::int64_t step_ = 0;
  friend class LinearLayerTestPeer;
};

/// Adam on a dense parameter vector (used for CRF transitions too).
void adam_step(std::span<float> param, std::span<const float> grad, std::span<float> m, std::span<float> v,
               const AdamOptions& o, float lr, std::int64_t step, bool decay);

}  // namespace parley::nlu
