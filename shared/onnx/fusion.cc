// Conv + element-wise fusions (see fusion.h): a load-time rewrite of the main graph and the
// run-time helpers the Conv/ConvTranspose ops call. Depends on fusion.h, ops/op_registry.h.
#include "shared/onnx/fusion.h"

#include <cmath>
#include <set>
#include <vector>

namespace parley::onnx {
namespace {

constexpr const char* kSlopeAttr = "_fused_input_slope";
constexpr const char* kScaleAttr = "_fused_input_scale";

bool is_conv(const Node& n) { return !n.folded && (n.op_type == "Conv" || n.op_type == "ConvTranspose"); }

// How often each value is read: every node input of every graph (If branches included) and every
// graph output.
std::vector<int> count_reads(const ModelData& m) {
  std::vector<int> reads(m.values.size(), 0);
  for (const Graph& g : m.graphs) {
    for (const Node& n : g.nodes) {
      for (int id : n.inputs) {
        if (id >= 0) ++reads[static_cast<std::size_t>(id)];
      }
    }
    for (int id : g.outputs) ++reads[static_cast<std::size_t>(id)];
  }
  return reads;
}

// Removes the nodes a fusion marked, keeping the order of the others.
void drop_removed(Graph& g, const std::vector<char>& removed) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (!removed[i]) kept.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(kept);
}

std::set<int> graph_outputs(const ModelData& m) {
  std::set<int> out;
  for (const Graph& g : m.graphs) out.insert(g.outputs.begin(), g.outputs.end());
  return out;
}

bool is_float(const ModelData& m, int id) { return id >= 0 && m.values[static_cast<std::size_t>(id)].type == DataType::kFloat; }

// The value of a scalar float constant, if `id` is one.
bool scalar_constant(const ModelData& m, int id, float& v) {
  if (id < 0) return false;
  const ValueInfo& info = m.values[static_cast<std::size_t>(id)];
  if (!info.constant || info.constant->type() != DataType::kFloat || info.constant->numel() != 1) return false;
  if (!info.constant->device().is_cpu()) return false;
  v = info.constant->data<float>()[0];
  return true;
}

Attribute float_attr(float f) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = f;
  return a;
}

// The per-tensor (or, for a 2-D B, per-column) float scales of a constant scale input.
bool constant_scales(const ModelData& m, int id, std::vector<float>& out) {
  if (id < 0) return false;
  const ValueInfo& info = m.values[static_cast<std::size_t>(id)];
  if (!info.constant || info.constant->type() != DataType::kFloat || !info.constant->device().is_cpu()) return false;
  if (info.constant->rank() > 1 || info.constant->numel() < 1) return false;
  const float* s = info.constant->data<float>();
  out.assign(s, s + info.constant->numel());
  for (float v : out) {
    if (!(v > 0.0f) || !std::isfinite(v)) return false;  // a scale must be positive and finite
  }
  return true;
}

Attribute floats_attr(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloats;
  a.floats = std::move(v);
  return a;
}

constexpr const char* kIntAScale = "_int_a_scale";
constexpr const char* kIntBScales = "_int_b_scales";
constexpr const char* kIntBPacked = "_int_b_packed";
constexpr const char* kIntBDims = "_int_b_nk";
constexpr const char* kIntAZero = "_int_a_zero";        // A's zero point as a uint8 code (int8: + 128)
constexpr const char* kIntScales = "_int_scales";       // sa * sb[j], n entries (the int8 linear's)
constexpr const char* kIntBPackedI8 = "_int_b_packed_i8";
constexpr const char* kIntBDynScale = "_int_b_dyn_scale";  // B a round trip too (both operands activations)
constexpr const char* kIntBDynZero = "_int_b_dyn_zero";

Attribute int_attr(std::int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}

// The 8-bit zero point of a QuantizeLinear/round trip node as the uint8 code of real zero: the
// value itself for uint8, + 128 for int8 (so q + 128 is A's unsigned byte); none means uint8 0.
bool unsigned_zero_point(const ModelData& m, const Node& q, std::int64_t& out) {
  if (q.inputs.size() < 3 || q.inputs[2] < 0) {
    out = 0;
    return true;
  }
  const ValueInfo& info = m.values[static_cast<std::size_t>(q.inputs[2])];
  if (!info.constant || info.constant->numel() != 1 || !info.constant->device().is_cpu()) return false;
  if (info.constant->type() == DataType::kUint8) {
    out = info.constant->data<std::uint8_t>()[0];
    return true;
  }
  if (info.constant->type() == DataType::kInt8) {
    out = static_cast<std::int64_t>(info.constant->data<std::int8_t>()[0]) + 128;
    return true;
  }
  return false;
}

}  // namespace

int mark_integer_matmuls(ModelData& m) {
  if (m.graphs.empty()) return 0;
  Graph& g = m.graphs.front();
  std::vector<int> producer(m.values.size(), -1);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    for (int id : g.nodes[i].outputs) {
      if (id >= 0) producer[static_cast<std::size_t>(id)] = static_cast<int>(i);
    }
  }
  auto from = [&](int id) -> const Node* {
    if (id < 0 || producer[static_cast<std::size_t>(id)] < 0) return nullptr;
    return &g.nodes[static_cast<std::size_t>(producer[static_cast<std::size_t>(id)])];
  };
  auto eight_bit = [](DataType t) { return t == DataType::kUint8 || t == DataType::kInt8; };
  auto zero_point_ok = [&](const Node& q) {  // q - zp stays within +-255: an 8-bit zero point or none
    return q.inputs.size() < 3 || q.inputs[2] < 0 || eight_bit(m.values[static_cast<std::size_t>(q.inputs[2])].type);
  };
  int marked = 0;
  for (Node& n : g.nodes) {
    if (n.op_type != "MatMul" || n.inputs.size() != 2) continue;
    const Node* a = from(n.inputs[0]);
    const Node* b = from(n.inputs[1]);
    if (a == nullptr || b == nullptr || a->op_type != detail::kQuantizeDequantize || a->inputs.size() < 2) continue;
    std::vector<float> sa, sb;
    if (!constant_scales(m, a->inputs[1], sa) || sa.size() != 1 || !zero_point_ok(*a)) continue;
    std::int64_t a_zero = 0, b_zero = 0;
    if (b->op_type == detail::kQuantizeDequantize && b->inputs.size() >= 2) {  // activation x activation
      if (!constant_scales(m, b->inputs[1], sb) || sb.size() != 1 || !unsigned_zero_point(m, *a, a_zero) ||
          !unsigned_zero_point(m, *b, b_zero)) {
        continue;
      }
      n.attrs[kIntAScale] = float_attr(sa[0]);
      n.attrs[kIntAZero] = int_attr(a_zero);
      n.attrs[kIntBDynScale] = float_attr(sb[0]);
      n.attrs[kIntBDynZero] = int_attr(b_zero);
      ++marked;
      continue;
    }
    if (b->op_type != "DequantizeLinear" || b->inputs.size() < 2 || b->inputs[0] < 0 || !zero_point_ok(*b)) continue;
    const ValueInfo& w = m.values[static_cast<std::size_t>(b->inputs[0])];
    if (!w.constant || !eight_bit(w.type) || w.constant->rank() != 2 || !constant_scales(m, b->inputs[1], sb)) continue;
    if (sb.size() != 1) {  // per column only: quantized along axis 1 (the output channels)
      const std::int64_t axis = b->attr_int("axis", 1);
      if (!(axis == 1 || axis == -1) || static_cast<std::int64_t>(sb.size()) != w.constant->dims()[1]) continue;
    }
    n.attrs[kIntAScale] = float_attr(sa[0]);
    n.attrs[kIntBScales] = floats_attr(std::move(sb));
    if (unsigned_zero_point(m, *a, a_zero)) n.attrs[kIntAZero] = int_attr(a_zero);
    ++marked;
  }
  return marked;
}

namespace {

// B's integers as int8 [n, k] packed for the backend's int8 linear (u8 activations x s8 weights,
// exact int32 sums: ONNX Runtime's own QDQ arithmetic), when the backend runs it fast, A has an
// 8-bit zero point and every weight fits int8 (symmetric weights). False: not packed.
bool pack_int8_matmul(Node& n, const std::vector<float>& wi, std::int64_t nn, std::int64_t k, float sa,
                      const std::vector<float>& sb, const kernels::Backend& be) {
  if (be.int8_linear == nullptr || be.pack_int8 == nullptr || be.int8_packed_bytes == nullptr || n.attr(kIntAZero) == nullptr) {
    return false;
  }
  const std::int64_t dims[3] = {1, nn, k};
  if (!be.supports(kernels::OpQuery{kernels::Op::kInt8Linear, {}, dims})) return false;
  std::vector<std::int8_t> w8(wi.size());
  for (std::size_t i = 0; i < wi.size(); ++i) {
    if (wi[i] < -128.0f || wi[i] > 127.0f) return false;
    w8[i] = static_cast<std::int8_t>(wi[i]);
  }
  const std::int64_t bytes = be.int8_packed_bytes(nn, k);
  if (bytes <= 0) return false;
  auto t = Tensor::host(DataType::kUint8, Dims{bytes});
  if (!t.ok()) return false;
  kernels::Int8PackArgs pa;
  pa.n = nn;
  pa.k = k;
  pa.w = w8.data();
  pa.ldw = k;
  pa.dst = t->raw();
  pa.dst_bytes = static_cast<std::size_t>(bytes);
  if (!be.pack_int8(pa, kernels::ExecContext::cpu()).is_ok()) return false;
  std::vector<float> scales(static_cast<std::size_t>(nn));
  for (std::int64_t j = 0; j < nn; ++j) scales[static_cast<std::size_t>(j)] = sa * (sb.size() == 1 ? sb[0] : sb[static_cast<std::size_t>(j)]);
  Attribute pt;
  pt.kind = Attribute::Kind::kTensor;
  pt.t = std::move(*t);
  n.attrs[kIntBPackedI8] = std::move(pt);
  n.attrs[kIntScales] = floats_attr(std::move(scales));
  Attribute d;
  d.kind = Attribute::Kind::kInts;
  d.ints = {nn, k};
  n.attrs[kIntBDims] = std::move(d);
  return true;
}

}  // namespace

int pack_integer_matmuls(ModelData& m, const kernels::Backend& be) {
  if (m.graphs.empty() || be.supports == nullptr) return 0;
  const bool bf16 = be.bf16_linear != nullptr && be.pack_bf16 != nullptr && be.bf16_packed_bytes != nullptr;
  int packed = 0;
  for (Node& n : m.graphs.front().nodes) {
    const Attribute* sa = n.attr(kIntAScale);
    const Attribute* sb = n.attr(kIntBScales);
    if (n.folded || sa == nullptr || sb == nullptr || n.inputs.size() != 2 || n.inputs[1] < 0) continue;
    const ValueInfo& bv = m.values[static_cast<std::size_t>(n.inputs[1])];
    if (!bv.constant || bv.constant->type() != DataType::kFloat || bv.constant->rank() != 2 || !bv.constant->device().is_cpu()) continue;
    const std::int64_t k = bv.constant->dims()[0], nn = bv.constant->dims()[1];
    if (sb->floats.size() != 1 && static_cast<std::int64_t>(sb->floats.size()) != nn) continue;
    // B's integers, transposed to [n, k] (the linear's weight rows are output channels).
    std::vector<float> wi(static_cast<std::size_t>(nn * k));
    const float* b = bv.constant->data<float>();
    bool integral = true;
    for (std::int64_t kk = 0; kk < k; ++kk) {
      for (std::int64_t j = 0; j < nn; ++j) {
        const float s = sb->floats.size() == 1 ? sb->floats[0] : sb->floats[static_cast<std::size_t>(j)];
        const float v = std::nearbyint(b[kk * nn + j] / s);
        integral = integral && std::fabs(v) <= 255.0f && std::fabs(b[kk * nn + j] / s - v) < 1e-3f;
        wi[static_cast<std::size_t>(j * k + kk)] = v;
      }
    }
    if (!integral) continue;  // not what a DequantizeLinear of 8-bit values gives: leave it f32
    if (pack_int8_matmul(n, wi, nn, k, sa->f, sb->floats, be)) {
      ++packed;
      continue;
    }
    const std::int64_t dims[3] = {1, nn, k};
    if (!bf16 || !be.supports(kernels::OpQuery{kernels::Op::kBf16Linear, {}, dims})) continue;
    const std::int64_t bytes = be.bf16_packed_bytes(nn, k);
    if (bytes <= 0) continue;
    auto t = Tensor::host(DataType::kUint8, Dims{bytes});
    if (!t.ok()) continue;
    kernels::Bf16PackArgs pa;
    pa.n = nn;
    pa.k = k;
    pa.w = wi.data();
    pa.ldw = k;
    pa.dst = t->raw();
    pa.dst_bytes = static_cast<std::size_t>(bytes);
    if (!be.pack_bf16(pa, kernels::ExecContext::cpu()).is_ok()) continue;
    Attribute pt;
    pt.kind = Attribute::Kind::kTensor;
    pt.t = std::move(*t);
    n.attrs[kIntBPacked] = std::move(pt);
    Attribute d;
    d.kind = Attribute::Kind::kInts;
    d.ints = {nn, k};
    n.attrs[kIntBDims] = std::move(d);
    ++packed;
  }
  return packed;
}

bool activation_integer_matmul(const Node& node, ActivationIntegerMatmul& out) {
  const Attribute* sa = node.attr(kIntAScale);
  const Attribute* za = node.attr(kIntAZero);
  const Attribute* sb = node.attr(kIntBDynScale);
  const Attribute* zb = node.attr(kIntBDynZero);
  if (sa == nullptr || za == nullptr || sb == nullptr || zb == nullptr) return false;
  out.a_scale = sa->f;
  out.b_scale = sb->f;
  out.a_zero = static_cast<std::int32_t>(za->i);
  out.b_zero = static_cast<std::int32_t>(zb->i);
  return true;
}

bool integer_matmul(const Node& node, IntegerMatmul& out) {
  const Attribute* a = node.attr(kIntAScale);
  const Attribute* b = node.attr(kIntBScales);
  const Attribute* d = node.attr(kIntBDims);
  if (a == nullptr || b == nullptr || d == nullptr || d->ints.size() != 2 || b->floats.empty()) return false;
  const Attribute* p = node.attr(kIntBPacked);
  const Attribute* p8 = node.attr(kIntBPackedI8);
  const Attribute* s8 = node.attr(kIntScales);
  const Attribute* z = node.attr(kIntAZero);
  if (p8 != nullptr && s8 != nullptr && z != nullptr) {
    out.int8 = true;
    out.packed = &p8->t;
    out.scales = &s8->floats;
    out.a_zero = static_cast<std::int32_t>(z->i);
  } else if (p != nullptr) {
    out.int8 = false;
    out.packed = &p->t;
  } else {
    return false;
  }
  out.a_scale = a->f;
  out.b_scales = &b->floats;
  out.n = d->ints[0];
  out.k = d->ints[1];
  return true;
}

FusionStats fuse_conv_elementwise(ModelData& m) {
  FusionStats st;
  Graph& g = m.graphs.front();
  const std::set<int> outputs = graph_outputs(m);
  std::vector<char> removed(g.nodes.size(), 0);
  std::vector<int> producer(m.values.size(), -1);
  auto index_producers = [&] {
    std::fill(producer.begin(), producer.end(), -1);
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      if (removed[i] || g.nodes[i].folded) continue;
      for (int id : g.nodes[i].outputs) {
        if (id >= 0) producer[static_cast<std::size_t>(id)] = static_cast<int>(i);
      }
    }
  };

  // 1. LeakyRelu (after an optional Div by a constant) feeding only convolutions' inputs.
  std::vector<int> reads = count_reads(m);
  index_producers();
  for (std::size_t li = 0; li < g.nodes.size(); ++li) {
    Node& relu = g.nodes[li];
    if (removed[li] || relu.folded || relu.op_type != "LeakyRelu" || relu.inputs.empty() || relu.outputs.empty()) continue;
    const int act = relu.outputs[0], pre = relu.inputs[0];
    if (act < 0 || outputs.count(act) || !is_float(m, pre)) continue;
    std::vector<std::size_t> convs;
    for (std::size_t ni = 0; ni < g.nodes.size(); ++ni) {
      const Node& n = g.nodes[ni];
      if (removed[ni] || !is_conv(n) || n.inputs.empty() || n.inputs[0] != act) continue;
      if (n.attr(kSlopeAttr) != nullptr) continue;
      bool other_slot = false;
      for (std::size_t k = 1; k < n.inputs.size(); ++k) other_slot = other_slot || n.inputs[k] == act;
      if (!other_slot) convs.push_back(ni);
    }
    if (convs.empty() || static_cast<int>(convs.size()) != reads[static_cast<std::size_t>(act)]) continue;
    int src = pre;
    float scale = 1.0f;
    const int di = producer[static_cast<std::size_t>(pre)];
    float divisor = 0.0f;
    if (di >= 0 && g.nodes[static_cast<std::size_t>(di)].op_type == "Div" && reads[static_cast<std::size_t>(pre)] == 1 &&
        !outputs.count(pre)) {
      const Node& div = g.nodes[static_cast<std::size_t>(di)];
      if (div.inputs.size() == 2 && is_float(m, div.inputs[0]) && scalar_constant(m, div.inputs[1], divisor) &&
          std::isfinite(divisor) && divisor != 0.0f) {
        src = div.inputs[0];
        scale = 1.0f / divisor;
        removed[static_cast<std::size_t>(di)] = 1;
        ++st.removed;
      }
    }
    for (std::size_t ni : convs) {
      Node& n = g.nodes[ni];
      n.inputs[0] = src;
      n.attrs[kSlopeAttr] = float_attr(relu.attr_float("alpha", 0.01f));
      if (scale != 1.0f) n.attrs[kScaleAttr] = float_attr(scale);
      ++st.input_transforms;
    }
    removed[li] = 1;
    ++st.removed;
  }

  // 2. Add(conv output, r) where nothing else reads the conv output: the conv takes r as its
  // residual and moves to the Add's place (r may be computed after the conv's old place).
  reads = count_reads(m);
  index_producers();
  for (std::size_t ai = 0; ai < g.nodes.size(); ++ai) {
    const Node& add = g.nodes[ai];
    if (removed[ai] || add.folded || add.op_type != "Add" || add.inputs.size() != 2 || add.outputs.empty()) continue;
    for (int slot = 0; slot < 2; ++slot) {
      const int c = add.inputs[static_cast<std::size_t>(slot)], r = add.inputs[static_cast<std::size_t>(1 - slot)];
      if (c < 0 || r < 0 || c == r || !is_float(m, r) || outputs.count(c) || reads[static_cast<std::size_t>(c)] != 1) continue;
      const int ci = producer[static_cast<std::size_t>(c)];
      if (ci < 0 || static_cast<std::size_t>(ci) >= ai || !is_conv(g.nodes[static_cast<std::size_t>(ci)])) continue;
      Node& conv = g.nodes[static_cast<std::size_t>(ci)];
      if (conv.outputs.size() != 1 || (conv.inputs.size() > 3 && conv.inputs[3] >= 0)) continue;
      conv.inputs.resize(4, -1);
      conv.inputs[3] = r;
      conv.outputs[0] = add.outputs[0];
      g.nodes[ai] = std::move(conv);
      removed[static_cast<std::size_t>(ci)] = 1;
      producer[static_cast<std::size_t>(g.nodes[ai].outputs[0])] = static_cast<int>(ai);
      ++st.residuals;
      ++st.removed;
      break;
    }
  }

  drop_removed(g, removed);
  return st;
}

namespace {

// A ReduceMean over the last axis only, keeping it.
bool mean_over_last_axis(const ModelData& m, const Node& n) {
  if (n.folded || n.op_type != "ReduceMean" || n.inputs.size() != 1 || n.outputs.size() != 1 || n.inputs[0] < 0) return false;
  if (n.attr_int("keepdims", 1) != 1) return false;
  const std::vector<std::int64_t> axes = n.attr_ints("axes");
  if (axes.size() != 1) return false;
  if (axes[0] == -1) return true;
  const ValueInfo& x = m.values[static_cast<std::size_t>(n.inputs[0])];
  return x.rank_known && axes[0] == static_cast<std::int64_t>(x.dims.size()) - 1;
}

// A float constant of rank <= 1: LayerNormalization broadcasts it over the normalized axis as the
// Mul/Add did (a rank-2 [1, C] would broadcast there but not here, so it is left alone).
bool float_vector_constant(const ModelData& m, int id) {
  if (id < 0) return false;
  const ValueInfo& v = m.values[static_cast<std::size_t>(id)];
  return v.constant && v.constant->type() == DataType::kFloat && v.constant->device().is_cpu() && v.constant->rank() <= 1;
}

}  // namespace

int fuse_layer_norms(ModelData& m) {
  if (m.graphs.empty()) return 0;
  const OpDef* ln = find_op("LayerNormalization");
  if (ln == nullptr) return 0;
  Graph& g = m.graphs.front();
  const std::set<int> outputs = graph_outputs(m);
  const std::vector<int> reads = count_reads(m);
  // Readers of each value in the main graph (node indices).
  std::vector<std::vector<std::size_t>> readers(m.values.size());
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (g.nodes[i].folded) continue;
    for (int id : g.nodes[i].inputs) {
      if (id >= 0) readers[static_cast<std::size_t>(id)].push_back(i);
    }
  }
  // The one reader of `id` (nullptr unless exactly one node, and nothing else, reads it).
  auto sole_reader = [&](int id, const char* op) -> Node* {
    if (id < 0 || outputs.count(id) || reads[static_cast<std::size_t>(id)] != 1 || readers[static_cast<std::size_t>(id)].size() != 1) return nullptr;
    Node& n = g.nodes[readers[static_cast<std::size_t>(id)].front()];
    return !n.folded && n.op_type == op && n.outputs.size() == 1 && n.outputs[0] >= 0 ? &n : nullptr;
  };
  auto other_input = [](const Node& n, int id) { return n.inputs.size() == 2 ? (n.inputs[0] == id ? n.inputs[1] : n.inputs[1] == id ? n.inputs[0] : -1) : -1; };
  std::vector<char> removed(g.nodes.size(), 0);
  int fused = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    Node& mean = g.nodes[i];
    if (removed[i] || !mean_over_last_axis(m, mean) || !is_float(m, mean.inputs[0])) continue;
    const int x = mean.inputs[0];
    Node* sub = sole_reader(mean.outputs[0], "Sub");
    if (sub == nullptr || sub->inputs.size() != 2 || sub->inputs[0] != x || sub->inputs[1] != mean.outputs[0]) continue;
    const int centred = sub->outputs[0];
    // The centred value feeds exactly a Pow and the Div.
    if (outputs.count(centred) || reads[static_cast<std::size_t>(centred)] != 2 || readers[static_cast<std::size_t>(centred)].size() != 2) continue;
    Node* pow = nullptr;
    Node* div = nullptr;
    for (std::size_t r : readers[static_cast<std::size_t>(centred)]) {
      Node& n = g.nodes[r];
      if (n.op_type == "Pow" && n.inputs.size() == 2 && n.inputs[0] == centred) pow = &n;
      if (n.op_type == "Div" && n.inputs.size() == 2 && n.inputs[0] == centred) div = &n;
    }
    float two = 0, eps = 0;
    if (pow == nullptr || div == nullptr || !scalar_constant(m, pow->inputs[1], two) || two != 2.0f) continue;
    Node* var = sole_reader(pow->outputs[0], "ReduceMean");
    if (var == nullptr || !mean_over_last_axis(m, *var)) continue;
    Node* add_eps = sole_reader(var->outputs[0], "Add");
    if (add_eps == nullptr || !scalar_constant(m, other_input(*add_eps, var->outputs[0]), eps) || !(eps >= 0.0f)) continue;
    Node* sqrt = sole_reader(add_eps->outputs[0], "Sqrt");
    if (sqrt == nullptr || div->inputs[1] != sqrt->outputs[0] || reads[static_cast<std::size_t>(sqrt->outputs[0])] != 1) continue;
    Node* mul = sole_reader(div->outputs[0], "Mul");
    if (mul == nullptr) continue;
    const int gamma = other_input(*mul, div->outputs[0]);
    Node* add_beta = sole_reader(mul->outputs[0], "Add");
    if (add_beta == nullptr || !float_vector_constant(m, gamma)) continue;
    const int beta = other_input(*add_beta, mul->outputs[0]);
    if (!float_vector_constant(m, beta)) continue;
    // The Add's place: every input (x, gamma, beta) exists by then.
    Node fused_node;
    fused_node.name = add_beta->name + " (fused layer norm)";
    fused_node.op_type = "LayerNormalization";
    fused_node.opset = 17;
    fused_node.def = ln;
    fused_node.inputs = {x, gamma, beta};
    fused_node.outputs = {add_beta->outputs[0]};
    Attribute axis;
    axis.kind = Attribute::Kind::kInt;
    axis.i = -1;
    fused_node.attrs["axis"] = axis;
    fused_node.attrs["epsilon"] = float_attr(eps);
    for (const Node* n : {&mean, sub, pow, var, add_eps, sqrt, div, mul}) removed[static_cast<std::size_t>(n - g.nodes.data())] = 1;
    *add_beta = std::move(fused_node);
    ++fused;
  }
  if (fused == 0) return 0;
  drop_removed(g, removed);
  return fused;
}

bool prepare_fused_conv(const Node& node, std::span<const Tensor> in, const Tensor& out, kernels::Conv1dArgs& a,
                        bool kernel_may_take_residual) {
  if (const Attribute* s = node.attr(kSlopeAttr)) {
    a.input_leaky = true;
    a.input_slope = s->f;
  }
  if (const Attribute* s = node.attr(kScaleAttr)) a.input_scale = s->f;
  if (in.size() <= 3 || !in[3].defined()) return false;
  const Tensor& r = in[3];
  if (kernel_may_take_residual && r.type() == DataType::kFloat && r.dims() == out.dims() && r.device() == out.device()) {
    a.residual = r.raw();
    return false;
  }
  return true;
}

Status add_fused_residual(std::span<const Tensor> in, Tensor& out, RunContext& ctx) {
  const OpDef* add = find_op("Add");
  if (add == nullptr || in.size() <= 3) return internal_error("fused residual: no Add op or no residual input");
  Node n;
  n.name = "fused residual";
  n.op_type = "Add";
  n.def = add;
  const std::vector<Tensor> both = {out, in[3]};
  std::vector<Tensor> sum(1);
  PARLEY_RETURN_IF_ERROR(add->run(n, std::span<const Tensor>(both), std::span<Tensor>(sum), ctx));
  out = std::move(sum[0]);
  return Status::ok();
}

}  // namespace parley::onnx
