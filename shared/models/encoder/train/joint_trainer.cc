// train_joint: the fine-tuning loop (batches, heads, losses, AdamW, schedule) over a
// TrainableEncoder, every op through the device's backend table.
// Why: see joint_trainer.h. Depends on trainable_encoder.h, kernels/backend.h.
#include "shared/models/encoder/train/joint_trainer.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <numeric>
#include <random>

#include "kernels/backend.h"

namespace parley::encoder::train {

Status adamw_update(const std::vector<Param*>& params, float lr, std::int64_t step, const AdamWOptions& o,
                    const models::ModelDevice& dev) {
  for (Param* p : params) {
    kernels::AdamWArgs a;
    a.n = p->size;
    a.param = p->data();
    a.grad = p->g();
    a.m = p->m.as<float>();
    a.v = p->v.as<float>();
    a.mask = p->mask ? p->mask.as<const std::uint8_t>() : nullptr;
    a.lr = lr;
    a.beta1 = o.beta1;
    a.beta2 = o.beta2;
    a.eps = o.eps;
    a.weight_decay = p->decay ? o.weight_decay : 0.0f;
    a.step = step;
    a.zero_grad = true;
    PARLEY_RETURN_IF_ERROR(dev.backend().adamw(a, dev.ctx()).with_context(p->name));
  }
  return Status::ok();
}

namespace {

struct Ops {
  const models::ModelDevice& dev;
  Status gemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* b,
              std::int64_t ldb, bool bt, float* c, std::int64_t ldc, const float* bias = nullptr) const {
    kernels::GemmArgs g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.a = a;
    g.lda = lda;
    g.b = b;
    g.ldb = ldb;
    g.b_transposed = bt;
    g.c = c;
    g.ldc = ldc;
    g.bias = bias;
    return dev.backend().gemm(g, dev.ctx());
  }
  Status transpose(const float* src, std::int64_t rows, std::int64_t cols, float* dst) const {
    kernels::StridedCopyArgs s;
    s.rank = 2;
    s.dims[0] = cols;
    s.dims[1] = rows;
    s.src = src;
    s.src_strides[0] = 1;
    s.src_strides[1] = cols;
    s.dst = dst;
    s.dst_strides[0] = rows;
    s.dst_strides[1] = 1;
    return dev.backend().strided_copy(s, dev.ctx());
  }
  // Head y = x W^T + b over `rows`; with labels: loss, dy, dW, db, and dx = dy W.
  Status head(std::int64_t rows, std::int64_t classes, std::int64_t h, const float* x, Param& w, Param& b,
              const std::int32_t* labels, float scale, float smoothing, float* logits, float* tr, const float* ones,
              float* loss, float* dx) const {
    PARLEY_RETURN_IF_ERROR(gemm(rows, classes, h, x, h, w.data(), h, true, logits, classes, b.data()));
    kernels::CrossEntropyArgs ce;
    ce.rows = rows;
    ce.classes = classes;
    ce.logits = logits;
    ce.ld_logits = classes;
    ce.labels = labels;
    ce.dlogits = logits;
    ce.ld_dlogits = classes;
    ce.loss = loss;
    ce.scale = scale;
    ce.label_smoothing = smoothing;
    PARLEY_RETURN_IF_ERROR(dev.backend().cross_entropy(ce, dev.ctx()));
    PARLEY_RETURN_IF_ERROR(transpose(logits, rows, classes, tr));
    PARLEY_RETURN_IF_ERROR(gemm(classes, h, rows, tr, rows, x, h, false, w.g(), h));
    PARLEY_RETURN_IF_ERROR(gemm(1, classes, rows, ones, rows, logits, classes, false, b.g(), classes));
    return gemm(rows, h, classes, logits, classes, w.data(), h, false, dx, h);
  }
};

}  // namespace

Result<JointResult> train_joint(const EncoderWeights& weights, const EncoderConfig& config,
                                const std::vector<JointExample>& examples, int labels, int tags,
                                const JointOptions& options, const models::ModelDevice& dev) {
  const auto t0 = std::chrono::steady_clock::now();
  if (examples.empty()) return invalid_argument("no training examples");
  if (labels < 1 || tags < 1) return invalid_argument("labels and tags must be >= 1");
  if (options.batch_size < 1 || options.epochs < 1) return invalid_argument("batch_size and epochs must be >= 1");
  const std::int64_t max_len = config.max_positions - config.position_offset;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const JointExample& e = examples[i];
    if (e.ids.empty() || static_cast<std::int64_t>(e.ids.size()) > max_len || e.tags.size() != e.ids.size()) {
      return invalid_argument("training example " + std::to_string(i) + ": " + std::to_string(e.ids.size()) + " ids, " +
                              std::to_string(e.tags.size()) + " tags (want 1.." + std::to_string(max_len) + ", equal)");
    }
    if (e.label >= labels) return invalid_argument("training example " + std::to_string(i) + ": label out of range");
    for (std::int32_t t : e.tags) {
      if (t >= tags) return invalid_argument("training example " + std::to_string(i) + ": tag out of range");
    }
  }
  PARLEY_ASSIGN_OR_RETURN(auto enc, TrainableEncoder::create(weights, config, dev, options.encoder));
  const std::int64_t h = config.hidden;
  // Heads: small random weights (std 0.02, BERT's initializer), zero biases.
  std::mt19937 rng(options.seed);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<float> lw(static_cast<std::size_t>(labels * h)), tw(static_cast<std::size_t>(tags * h));
  for (float& v : lw) v = nd(rng);
  for (float& v : tw) v = nd(rng);
  PARLEY_ASSIGN_OR_RETURN(auto label_w, make_param(dev, "head.label.weight", labels * h, lw.data(), true));
  PARLEY_ASSIGN_OR_RETURN(auto label_b, make_param(dev, "head.label.bias", labels, nullptr, false));
  PARLEY_ASSIGN_OR_RETURN(auto tag_w, make_param(dev, "head.tag.weight", tags * h, tw.data(), true));
  PARLEY_ASSIGN_OR_RETURN(auto tag_b, make_param(dev, "head.tag.bias", tags, nullptr, false));
  const std::vector<Param*> head_params = {label_w.get(), label_b.get(), tag_w.get(), tag_b.get()};
  const std::vector<Param*> enc_params = enc->params();

  // Length-bucketed batches: sort by length (stable, seeded shuffle first so equal lengths mix),
  // cut into batches, shuffle the batch order every epoch.
  std::vector<std::size_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return examples[a].ids.size() < examples[b].ids.size(); });
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t i = 0; i < order.size(); i += static_cast<std::size_t>(options.batch_size)) {
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), i + static_cast<std::size_t>(options.batch_size))));
  }
  std::int64_t total = static_cast<std::int64_t>(batches.size()) * options.epochs;
  if (options.max_steps > 0) total = std::min(total, options.max_steps);
  const std::int64_t warm = std::max<std::int64_t>(1, static_cast<std::int64_t>(options.warmup * static_cast<float>(total)));
  auto schedule = [&](std::int64_t step) {  // 1-based
    if (step <= warm) return static_cast<float>(step) / static_cast<float>(warm);
    return std::max(0.0f, static_cast<float>(total - step + 1) / static_cast<float>(std::max<std::int64_t>(1, total - warm + 1)));
  };
  AdamWOptions ao;
  ao.beta2 = options.beta2;
  ao.weight_decay = options.weight_decay;
  Ops ops{dev};
  models::Scratch meta, cls, dcls, logits, tr, ones, loss;
  std::int64_t ones_size = 0;
  std::vector<std::int32_t> meta_host;
  std::vector<float> loss_host;
  std::deque<float> recent;
  JointResult result;
  std::int64_t step = 0;
  const int epochs = options.epochs;
  for (int epoch = 0; epoch < epochs && step < total; ++epoch) {
    std::vector<std::size_t> perm(batches.size());
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    for (std::size_t bi : perm) {
      if (step >= total) break;
      if (options.cancelled && options.cancelled()) return cancelled("fine-tuning cancelled");
      const std::vector<std::size_t>& idx = batches[bi];
      TokenBatch batch;
      std::vector<std::int32_t> cls_rows, label_ids, tag_ids;
      std::int32_t row = 0;
      std::int64_t labelled = 0, tagged = 0;
      for (std::size_t i : idx) {
        const JointExample& e = examples[i];
        batch.add(e.ids);
        cls_rows.push_back(row);
        label_ids.push_back(e.label);
        labelled += e.label >= 0 ? 1 : 0;
        for (std::int32_t t : e.tags) {
          tag_ids.push_back(t);
          tagged += t >= 0 ? 1 : 0;
        }
        row += static_cast<std::int32_t>(e.ids.size());
      }
      const std::int64_t n = batch.total_tokens(), b = static_cast<std::int64_t>(idx.size());
      PARLEY_RETURN_IF_ERROR(enc->forward(batch));
      meta_host.clear();
      meta_host.insert(meta_host.end(), cls_rows.begin(), cls_rows.end());
      meta_host.insert(meta_host.end(), label_ids.begin(), label_ids.end());
      meta_host.insert(meta_host.end(), tag_ids.begin(), tag_ids.end());
      PARLEY_RETURN_IF_ERROR(meta.reserve(dev, meta_host.size() * sizeof(std::int32_t)));
      PARLEY_RETURN_IF_ERROR(dev.upload(meta.data(), meta_host.data(), meta_host.size() * sizeof(std::int32_t)));
      const std::int32_t* d_cls = meta.as<const std::int32_t>();
      const std::int32_t* d_labels = d_cls + b;
      const std::int32_t* d_tags = d_labels + b;
      const std::int64_t widest = std::max<std::int64_t>(labels, tags);
      PARLEY_RETURN_IF_ERROR(cls.reserve_elems<float>(dev, b * h));
      PARLEY_RETURN_IF_ERROR(dcls.reserve_elems<float>(dev, b * h));
      PARLEY_RETURN_IF_ERROR(logits.reserve_elems<float>(dev, n * widest));
      PARLEY_RETURN_IF_ERROR(tr.reserve_elems<float>(dev, n * widest));
      PARLEY_RETURN_IF_ERROR(loss.reserve_elems<float>(dev, b + n));
      if (ones_size < n) {
        std::vector<float> one(static_cast<std::size_t>(n), 1.0f);
        PARLEY_RETURN_IF_ERROR(ones.reserve_elems<float>(dev, n));
        PARLEY_RETURN_IF_ERROR(dev.upload(ones.data(), one.data(), one.size() * sizeof(float)));
        ones_size = n;
      }
      kernels::EmbeddingArgs g;
      g.num_tokens = b;
      g.dim = h;
      g.vocab = n;
      g.ids = d_cls;
      g.table = enc->hidden();
      g.table_type = engine::DType::kF32;
      g.out = cls.data();
      g.ld_out = h;
      PARLEY_RETURN_IF_ERROR(dev.backend().embedding(g, dev.ctx()));
      PARLEY_RETURN_IF_ERROR(ops.head(b, labels, h, cls.as<float>(), *label_w, *label_b, d_labels,
                                      1.0f / static_cast<float>(std::max<std::int64_t>(1, labelled)), options.label_smoothing,
                                      logits.as<float>(), tr.as<float>(), ones.as<float>(), loss.as<float>(), dcls.as<float>()));
      PARLEY_RETURN_IF_ERROR(ops.head(n, tags, h, enc->hidden(), *tag_w, *tag_b, d_tags,
                                      options.tag_loss_weight / static_cast<float>(std::max<std::int64_t>(1, tagged)),
                                      options.label_smoothing, logits.as<float>(), tr.as<float>(), ones.as<float>(),
                                      loss.as<float>() + b, enc->hidden_grad()));
      kernels::EmbeddingBackwardArgs sc;
      sc.num_tokens = b;
      sc.dim = h;
      sc.rows = n;
      sc.ids = d_cls;
      sc.dy = dcls.as<float>();
      sc.lddy = h;
      sc.grad = enc->hidden_grad();
      sc.ld_grad = h;
      PARLEY_RETURN_IF_ERROR(dev.backend().embedding_backward(sc, dev.ctx()));
      PARLEY_RETURN_IF_ERROR(enc->backward());
      ++step;
      const float f = schedule(step);
      PARLEY_RETURN_IF_ERROR(adamw_update(enc_params, options.lr * f, step, ao, dev));
      PARLEY_RETURN_IF_ERROR(adamw_update(head_params, options.head_lr * f, step, ao, dev));
      loss_host.resize(static_cast<std::size_t>(b + n));
      PARLEY_RETURN_IF_ERROR(dev.download(loss_host.data(), loss.data(), loss_host.size() * sizeof(float)));
      double li = 0.0, lt = 0.0;
      for (std::int64_t i = 0; i < b; ++i) li += loss_host[static_cast<std::size_t>(i)];
      for (std::int64_t i = 0; i < n; ++i) lt += loss_host[static_cast<std::size_t>(b + i)];
      const float step_loss = static_cast<float>(li / static_cast<double>(std::max<std::int64_t>(1, labelled)) +
                                                 options.tag_loss_weight * lt / static_cast<double>(std::max<std::int64_t>(1, tagged)));
      if (!std::isfinite(step_loss)) return internal_error("fine-tuning diverged (loss " + std::to_string(step_loss) + " at step " + std::to_string(step) + ")");
      recent.push_back(step_loss);
      if (recent.size() > 20) recent.pop_front();
      result.tokens += n;
      if (options.progress) {
        JointProgress p;
        p.epoch = epoch + 1;
        p.epochs = epochs;
        p.step = step;
        p.steps = total;
        p.loss = std::accumulate(recent.begin(), recent.end(), 0.0f) / static_cast<float>(recent.size());
        p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        options.progress(p);
      }
    }
  }
  result.steps = step;
  result.final_loss = recent.empty() ? 0.0f : std::accumulate(recent.begin(), recent.end(), 0.0f) / static_cast<float>(recent.size());
  result.trainable_values = enc->trainable_values();
  PARLEY_ASSIGN_OR_RETURN(result.weights, enc->export_weights());
  auto down = [&](const Param& p, std::vector<float>& out) {
    out.resize(static_cast<std::size_t>(p.size));
    return dev.download(out.data(), p.data(), out.size() * sizeof(float));
  };
  PARLEY_RETURN_IF_ERROR(down(*label_w, result.label_w));
  PARLEY_RETURN_IF_ERROR(down(*label_b, result.label_b));
  PARLEY_RETURN_IF_ERROR(down(*tag_w, result.tag_w));
  PARLEY_RETURN_IF_ERROR(down(*tag_b, result.tag_b));
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace parley::encoder::train
