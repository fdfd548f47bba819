// `parley model inspect|quantize|prune`: see inspect_command.h.
// Why: model files from users are inspected and converted with the loader's own code paths.
// Depends on shared/engine/gguf (reader, writer), kernels/ (quantize, sparse24), linear.h.
#include "shared/models/llama/inspect_command.h"

#include "kernels/backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <map>
#include <ostream>
#include <sstream>

#include "kernels/ops/quantize.h"
#include "kernels/ops/sparse24.h"
#include "shared/models/llama/linear.h"
#include "shared/engine/gguf/gguf.h"
#include "shared/engine/gguf/gguf_writer.h"
#include "shared/engine/half.h"

namespace parley::llama {

namespace gguf = engine::gguf;
using engine::DType;

namespace {

constexpr const char* kUsage =
    "usage: parley model inspect FILE.gguf\n"
    "       parley model quantize IN.gguf OUT.gguf   (INT8 per-channel weights, written as Q8_0)\n"
    "       parley model prune IN.gguf OUT.gguf      (2:4 magnitude pruning of the blk.* projections)\n";

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (b >= 1024 && u < 3) {
    b /= 1024;
    ++u;
  }
  std::ostringstream os;
  os << std::fixed << std::setprecision(u == 0 ? 0 : 1) << b << " " << units[u];
  return os.str();
}

int inspect(const std::string& path, std::ostream& out, std::ostream& err) {
  auto f = gguf::GgufFile::open(path);
  if (!f.ok()) {
    err << "parley model inspect: " << f.status().message() << "\n";
    return 1;
  }
  const gguf::GgufFile& g = **f;
  out << path << ": GGUF v" << g.version() << ", " << g.metadata().size() << " metadata keys, " << g.tensors().size()
      << " tensors, alignment " << g.alignment() << ", data at byte " << g.data_offset() << ", "
      << human_bytes(static_cast<double>(g.file_size())) << "\n\nmetadata:\n";
  for (const auto& [k, v] : g.metadata()) {
    std::string type(gguf::value_type_name(v.type));
    if (v.type == gguf::ValueType::kArray) {
      type += '<';
      type += gguf::value_type_name(v.elem_type);
      type += '>';
    }
    out << "  " << std::left << std::setw(44) << k << " " << std::setw(14) << type << " " << v.to_string(8) << "\n";
  }
  out << "\ntensors:\n";
  struct Total {
    std::int64_t count = 0, params = 0;
    std::uint64_t bytes = 0;
  };
  std::map<std::string, Total> by_type;
  Total all;
  for (const gguf::TensorInfo& t : g.tensors()) {
    out << "  " << std::left << std::setw(32) << t.name << " " << std::setw(6) << t.type_name() << " " << std::setw(14)
        << t.shape_string() << " " << std::right << std::setw(12) << t.n_bytes << " B\n";
    Total& tt = by_type[t.type_name()];
    tt.count++;
    tt.params += t.n_elements;
    tt.bytes += t.n_bytes;
    all.count++;
    all.params += t.n_elements;
    all.bytes += t.n_bytes;
  }
  out << "\ntotals:\n";
  for (const auto& [type, t] : by_type) {
    out << "  " << std::left << std::setw(6) << type << " " << std::right << std::setw(5) << t.count << " tensors "
        << std::setw(12) << t.params << " params " << std::setw(12) << human_bytes(static_cast<double>(t.bytes)) << "\n";
  }
  out << "  all    " << std::setw(5) << all.count << " tensors " << std::setw(12) << all.params << " params "
      << std::setw(12) << human_bytes(static_cast<double>(all.bytes)) << " ("
      << std::fixed << std::setprecision(2) << (all.params ? 8.0 * static_cast<double>(all.bytes) / static_cast<double>(all.params) : 0.0)
      << " bits/param)\n";
  return 0;
}

double rel_error(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += static_cast<double>(a[i] - ref[i]) * (a[i] - ref[i]);
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : 0.0;
}

bool is_projection(const gguf::TensorInfo& t, bool include_embeddings) {
  if (t.dims.size() != 2) return false;
  if (t.name.rfind("blk.", 0) == 0) return t.name.size() > 7 && t.name.compare(t.name.size() - 7, 7, ".weight") == 0;
  return include_embeddings && (t.name == "token_embd.weight" || t.name == "output.weight");
}

// Symmetric int8 per row, stored as Q8_0 blocks whose d is the row scale (rounded to f16, as
// Q8_0 stores it; the int8 values are recomputed against the rounded scale).
std::vector<std::byte> int8_rows_as_q8_0(const std::vector<float>& w, std::int64_t rows, std::int64_t cols) {
  const std::int64_t blocks = cols / 32;
  std::vector<std::byte> out(static_cast<std::size_t>(rows * blocks * 34));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* x = w.data() + r * cols;
    float amax = 0;
    for (std::int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::abs(x[c]));
    const std::uint16_t dh = engine::f32_to_f16(amax / 127.0f);
    const float d = engine::f16_to_f32(dh);
    const float inv = d > 0 ? 1.0f / d : 0.0f;
    for (std::int64_t b = 0; b < blocks; ++b) {
      std::byte* blk = out.data() + (r * blocks + b) * 34;
      std::memcpy(blk, &dh, 2);
      for (int i = 0; i < 32; ++i) {
        const float q = std::nearbyint(x[b * 32 + i] * inv);
        const auto qi = static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f));
        std::memcpy(blk + 2 + i, &qi, 1);
      }
    }
  }
  return out;
}

std::vector<float> q8_0_to_f32(const std::vector<std::byte>& q, std::int64_t rows, std::int64_t cols) {
  std::vector<float> y(static_cast<std::size_t>(rows * cols));
  kernels::GgufDequantizeArgs d;
  d.rows = rows; d.cols = cols; d.x = q.data(); d.x_row_bytes = cols / 32 * 34; d.type = DType::kQ8_0;
  d.y = y.data(); d.ldy = cols;
  (void)kernels::BackendRegistry::instance().cpu().gguf_dequantize(d, kernels::ExecContext::cpu());
  return y;
}

// Writes `w` (f32 rows) in `type` (f32, f16, bf16, q8_0, q4_0, q4_1).
std::vector<std::byte> encode(const std::vector<float>& w, std::int64_t rows, std::int64_t cols, gguf::GgmlType type) {
  const DType dt = *gguf::ggml_type_info(type).engine_dtype;
  if (dt == DType::kF32) {
    const auto* p = reinterpret_cast<const std::byte*>(w.data());
    return std::vector<std::byte>(p, p + w.size() * 4);
  }
  if (dt == DType::kF16 || dt == DType::kBF16) {
    std::vector<std::uint16_t> h(w.size());
    if (dt == DType::kF16) engine::f32_to_f16_n(w.data(), h.data(), w.size());
    else engine::f32_to_bf16_n(w.data(), h.data(), w.size());
    const auto* p = reinterpret_cast<const std::byte*>(h.data());
    return std::vector<std::byte>(p, p + h.size() * 2);
  }
  const std::int64_t rb = engine::row_bytes(dt, cols);
  std::vector<std::byte> out(static_cast<std::size_t>(rows * rb));
  kernels::GgufQuantizeArgs q;
  q.rows = rows; q.cols = cols; q.x = w.data(); q.ldx = cols; q.type = dt; q.y = out.data(); q.y_row_bytes = rb;
  (void)kernels::BackendRegistry::instance().cpu().gguf_quantize(q, kernels::ExecContext::cpu());
  return out;
}

Result<std::vector<float>> decode(const gguf::TensorInfo& t) {
  return tensor_rows_f32(t, 0, t.rows());
}

enum class Convert { kQuantize, kPrune };

int convert(Convert mode, const std::string& in, const std::string& out_path, std::ostream& out, std::ostream& err) {
  const char* name = mode == Convert::kQuantize ? "quantize" : "prune";
  auto f = gguf::GgufFile::open(in);
  if (!f.ok()) {
    err << "parley model " << name << ": " << f.status().message() << "\n";
    return 1;
  }
  const gguf::GgufFile& g = **f;
  gguf::GgufWriter w;
  for (const auto& [k, v] : g.metadata()) w.set(k, gguf::OwnedValue::from(v));
  if (g.alignment() != 32) w.set_alignment(g.alignment());
  if (mode == Convert::kQuantize) w.set_u32("general.file_type", 7);  // llama.cpp's MOSTLY_Q8_0
  double sq_err = 0, sq_ref = 0;
  int converted = 0;
  out << std::left << std::setw(32) << "tensor" << " " << std::setw(6) << "from" << " " << std::setw(6) << "to"
      << " " << std::setw(14) << "shape" << " rel. error\n";
  for (const gguf::TensorInfo& t : g.tensors()) {
    const auto info = gguf::ggml_type_info(t.type);
    const bool decodable =
        info.engine_dtype && (engine::is_float(*info.engine_dtype) || engine::is_block_quantized(*info.engine_dtype));
    const bool eligible = is_projection(t, mode == Convert::kQuantize) && decodable &&
                          (mode == Convert::kQuantize ? t.cols() % 32 == 0 : t.cols() % 4 == 0);
    Status st;
    if (!eligible) {
      st = w.add_tensor(t.name, t.dims, t.type, t.data);
    } else {
      auto ref = decode(t);
      if (!ref.ok()) {
        err << "parley model " << name << ": " << ref.status().message() << "\n";
        return 1;
      }
      std::vector<float> wt = *ref;
      gguf::GgmlType to = t.type;
      std::vector<std::byte> bytes;
      if (mode == Convert::kQuantize) {
        to = gguf::GgmlType::kQ8_0;
        bytes = int8_rows_as_q8_0(wt, t.rows(), t.cols());
        wt = q8_0_to_f32(bytes, t.rows(), t.cols());
      } else {
        kernels::Prune24Args p;
        p.rows = t.rows(); p.cols = t.cols(); p.w = wt.data(); p.ldw = t.cols(); p.dtype = DType::kF32;
        if (Status ps = kernels::prune24(p); !ps.is_ok()) {
          err << "parley model prune: tensor '" << t.name << "': " << ps.message() << "\n";
          return 1;
        }
        // Formats with a per-block min (q4_1, q5_1, q2_k, q4_k, q5_k) cannot store exact zeros.
        if (t.type == gguf::GgmlType::kQ4_1 || t.type == gguf::GgmlType::kQ5_1 || t.type == gguf::GgmlType::kQ2_K ||
            t.type == gguf::GgmlType::kQ4_K || t.type == gguf::GgmlType::kQ5_K) {
          to = gguf::GgmlType::kQ8_0;
        }
        bytes = encode(wt, t.rows(), t.cols(), to);
      }
      const double e = rel_error(wt, *ref);
      for (std::size_t i = 0; i < wt.size(); ++i) {
        sq_err += static_cast<double>(wt[i] - (*ref)[i]) * (wt[i] - (*ref)[i]);
        sq_ref += static_cast<double>((*ref)[i]) * (*ref)[i];
      }
      out << std::left << std::setw(32) << t.name << " " << std::setw(6) << t.type_name() << " " << std::setw(6)
          << gguf::ggml_type_info(to).name << " " << std::setw(14) << t.shape_string() << " " << std::scientific
          << std::setprecision(3) << e << std::defaultfloat << "\n";
      ++converted;
      st = w.add_tensor(t.name, t.dims, to, bytes);
    }
    if (!st.is_ok()) {
      err << "parley model " << name << ": " << st.message() << "\n";
      return 1;
    }
  }
  if (Status ws = w.write_file(out_path); !ws.is_ok()) {
    err << "parley model " << name << ": " << ws.message() << "\n";
    return 1;
  }
  auto check = gguf::GgufFile::open(out_path);  // what we wrote must read back
  if (!check.ok()) {
    err << "parley model " << name << ": wrote an unreadable file: " << check.status().message() << "\n";
    return 1;
  }
  out << converted << " tensors " << (mode == Convert::kQuantize ? "quantized" : "pruned") << ", overall relative error "
      << std::scientific << std::setprecision(3) << (sq_ref > 0 ? std::sqrt(sq_err / sq_ref) : 0.0) << std::defaultfloat
      << "; wrote " << out_path << " (" << human_bytes(static_cast<double>((*check)->file_size())) << ")\n";
  return 0;
}

}  // namespace

int run_model_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() == 2 && args[0] == "inspect") return inspect(args[1], out, err);
  if (args.size() == 3 && args[0] == "quantize") return convert(Convert::kQuantize, args[1], args[2], out, err);
  if (args.size() == 3 && args[0] == "prune") return convert(Convert::kPrune, args[1], args[2], out, err);
  if (!args.empty() && (args[0] == "help" || args[0] == "--help" || args[0] == "-h")) {
    out << kUsage;
    return 0;
  }
  err << kUsage;
  return 2;
}

int run_model_command(std::vector<std::string> args) { return run_model_command(args, std::cout, std::cerr); }

}  // namespace parley::llama
