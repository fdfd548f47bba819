// LinearLayer: scoring and Adam training (see linear_layer.h). The GEMMs run on the CPU backend's
// table: these heads are trained and applied on the host (a few kB of weights, Adam state, CRF
// decoding next to them), whatever device the encoder runs on.
#include "services/nlu/linear_layer.h"

#include <algorithm>
#include <cmath>

#include "kernels/backend.h"
#include "kernels/ops/gemm.h"

namespace parley::nlu {

namespace {
Status host_gemm(const kernels::GemmArgs& g) {
  return kernels::BackendRegistry::instance().cpu().gemm(g, kernels::ExecContext::cpu());
}
}  // namespace

int FeatureDict::id(const std::string& feature, bool grow) {
  auto it = ids_.find(feature);
  if (it != ids_.end()) return it->second;
  if (!grow) return -1;
  int id = static_cast<int>(ids_.size());
  ids_.emplace(feature, id);
  return id;
}

int FeatureDict::find(const std::string& feature) const {
  auto it = ids_.find(feature);
  return it == ids_.end() ? -1 : it->second;
}

void Standardizer::fit(const std::vector<float>& rows, std::size_t dim) {
  begin(dim);
  if (dim > 0) add(rows.data(), rows.size() / dim);
  end();
}

void Standardizer::begin(std::size_t dim) {
  sum_.assign(dim, 0.0);
  sum2_.assign(dim, 0.0);
  n_ = 0;
}

void Standardizer::add(const float* rows, std::size_t count) {
  const std::size_t dim = sum_.size();
  for (std::size_t r = 0; r < count; ++r) {
    const float* x = rows + r * dim;
    for (std::size_t k = 0; k < dim; ++k) {
      sum_[k] += x[k];
      sum2_[k] += static_cast<double>(x[k]) * x[k];
    }
  }
  n_ += count;
}

void Standardizer::end() {
  const std::size_t dim = sum_.size();
  mean.assign(dim, 0.0f);
  inv_std.assign(dim, 1.0f);
  if (n_ > 0) {
    for (std::size_t k = 0; k < dim; ++k) {
      double m = sum_[k] / static_cast<double>(n_);
      double var = std::max(0.0, sum2_[k] / static_cast<double>(n_) - m * m);
      mean[k] = static_cast<float>(m);
      // The floor keeps a constant feature (one example, padding) from blowing up.
      inv_std[k] = static_cast<float>(1.0 / std::sqrt(var + 1e-4));
    }
  }
  sum_.clear();
  sum2_.clear();
}

void Standardizer::apply(float* rows, std::size_t count) const {
  const std::size_t dim = mean.size();
  for (std::size_t r = 0; r < count; ++r) {
    float* x = rows + r * dim;
    for (std::size_t k = 0; k < dim; ++k) x[k] = (x[k] - mean[k]) * inv_std[k];
  }
}

LinearLayer::LinearLayer(int outputs, int dense_dim, std::size_t sparse_features)
    : outputs_(outputs), dense_dim_(dense_dim) {
  const auto l = static_cast<std::size_t>(outputs);
  w_.assign(l * static_cast<std::size_t>(dense_dim), 0.0f);
  v_.assign(sparse_features * l, 0.0f);
  b_.assign(l, 0.0f);
  mw_.assign(w_.size(), 0.0f);
  vw_.assign(w_.size(), 0.0f);
  mv_.assign(v_.size(), 0.0f);
  vv_.assign(v_.size(), 0.0f);
  mb_.assign(l, 0.0f);
  vb_.assign(l, 0.0f);
}

void LinearLayer::finish_training() {
  for (auto* v : {&mw_, &vw_, &mv_, &vv_, &mb_, &vb_, &grad_w_, &grad_t_}) {
    v->clear();
    v->shrink_to_fit();
  }
}

Status LinearLayer::score(const LinearBatch& batch, std::vector<float>& scores) const {
  const auto l = static_cast<std::size_t>(outputs_);
  scores.assign(batch.count * l, 0.0f);
  if (batch.count == 0) return Status::ok();
  if (dense_dim_ > 0) {
    kernels::GemmArgs g;
    g.m = static_cast<std::int64_t>(batch.count);
    g.n = outputs_;
    g.k = dense_dim_;
    g.a = batch.dense.data();
    g.lda = dense_dim_;
    g.b = w_.data();
    g.ldb = dense_dim_;
    g.c = scores.data();
    g.ldc = outputs_;
    g.bias = b_.data();
    PARLEY_RETURN_IF_ERROR(host_gemm(g));
  } else {
    for (std::size_t r = 0; r < batch.count; ++r)
      std::copy(b_.begin(), b_.end(), scores.begin() + static_cast<std::ptrdiff_t>(r * l));
  }
  for (std::size_t r = 0; r < batch.count && r < batch.sparse.size(); ++r) {
    float* s = scores.data() + r * l;
    for (int f : batch.sparse[r]) {
      const float* row = v_.data() + static_cast<std::size_t>(f) * l;
      for (std::size_t k = 0; k < l; ++k) s[k] += row[k];
    }
  }
  return Status::ok();
}

void adam_step(std::span<float> param, std::span<const float> grad, std::span<float> m, std::span<float> v,
               const AdamOptions& o, float lr, std::int64_t step, bool decay) {
  const float c1 = 1.0f - std::pow(o.beta1, static_cast<float>(step));
  const float c2 = 1.0f - std::pow(o.beta2, static_cast<float>(step));
  const float a = lr * std::sqrt(c2) / c1;
  for (std::size_t i = 0; i < param.size(); ++i) {
    float g = grad[i] + (decay ? o.l2 * param[i] : 0.0f);
    m[i] = o.beta1 * m[i] + (1.0f - o.beta1) * g;
    v[i] = o.beta2 * v[i] + (1.0f - o.beta2) * g * g;
    param[i] -= a * m[i] / (std::sqrt(v[i]) + o.eps);
  }
}

Status LinearLayer::update(const LinearBatch& batch, const std::vector<float>& d_scores, const AdamOptions& adam,
                           float lr) {
  ++step_;
  const auto l = static_cast<std::size_t>(outputs_);
  const std::size_t n = batch.count;
  if (n == 0) return Status::ok();
  // Dense: dW[L, D] = dS^T[L, N] . X[N, D]
  if (dense_dim_ > 0) {
    grad_t_.resize(l * n);
    for (std::size_t r = 0; r < n; ++r) {
      for (std::size_t k = 0; k < l; ++k) grad_t_[k * n + r] = d_scores[r * l + k];
    }
    grad_w_.resize(w_.size());
    kernels::GemmArgs g;
    g.m = outputs_;
    g.n = dense_dim_;
    g.k = static_cast<std::int64_t>(n);
    g.a = grad_t_.data();
    g.lda = static_cast<std::int64_t>(n);
    g.b = batch.dense.data();
    g.ldb = dense_dim_;
    g.b_transposed = false;
    g.c = grad_w_.data();
    g.ldc = dense_dim_;
    PARLEY_RETURN_IF_ERROR(host_gemm(g));
    adam_step(w_, grad_w_, mw_, vw_, adam, lr, step_, true);
  }
  std::vector<float> gb(l, 0.0f);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t k = 0; k < l; ++k) gb[k] += d_scores[r * l + k];
  }
  adam_step(b_, gb, mb_, vb_, adam, lr, step_, false);
  // Sparse rows: accumulate per touched feature, then a lazy Adam step on those rows only.
  std::unordered_map<int, std::vector<float>> touched;
  for (std::size_t r = 0; r < n && r < batch.sparse.size(); ++r) {
    for (int f : batch.sparse[r]) {
      auto& gr = touched[f];
      if (gr.empty()) gr.assign(l, 0.0f);
      for (std::size_t k = 0; k < l; ++k) gr[k] += d_scores[r * l + k];
    }
  }
  for (auto& [f, gr] : touched) {
    std::size_t off = static_cast<std::size_t>(f) * l;
    adam_step(std::span<float>(v_.data() + off, l), gr, std::span<float>(mv_.data() + off, l),
              std::span<float>(vv_.data() + off, l), adam, lr, step_, true);
  }
  return Status::ok();
}

}  // namespace parley::nlu
