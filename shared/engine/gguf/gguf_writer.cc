// GgufWriter: GGUF v3 serialization (see gguf.h for the format).
// Why: tests and model tools produce GGUF files; one writer keeps them consistent with the reader.
// Depends on gguf_writer.h.
#include "shared/engine/gguf/gguf_writer.h"

#include <cstring>
#include <fstream>

namespace parley::engine::gguf {

OwnedValue OwnedValue::from(const Value& v) {
  OwnedValue o;
  o.type = v.type;
  o.u = v.u;
  o.i = v.i;
  o.f = v.f;
  o.b = v.b;
  o.s = std::string(v.s);
  o.elem_type = v.elem_type;
  o.items.reserve(v.items.size());
  for (const Value& e : v.items) o.items.push_back(from(e));
  return o;
}

void GgufWriter::set(std::string key, OwnedValue v) {
  for (auto& [k, old] : kv_) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(v));
}

namespace {
OwnedValue scalar(ValueType t) {
  OwnedValue v;
  v.type = t;
  return v;
}
}  // namespace

void GgufWriter::set_u8(std::string key, std::uint8_t x) { auto v = scalar(ValueType::kU8); v.u = x; set(std::move(key), std::move(v)); }
void GgufWriter::set_u32(std::string key, std::uint32_t x) { auto v = scalar(ValueType::kU32); v.u = x; set(std::move(key), std::move(v)); }
void GgufWriter::set_i32(std::string key, std::int32_t x) { auto v = scalar(ValueType::kI32); v.i = x; set(std::move(key), std::move(v)); }
void GgufWriter::set_u64(std::string key, std::uint64_t x) { auto v = scalar(ValueType::kU64); v.u = x; set(std::move(key), std::move(v)); }
void GgufWriter::set_f32(std::string key, float x) { auto v = scalar(ValueType::kF32); v.f = x; set(std::move(key), std::move(v)); }
void GgufWriter::set_bool(std::string key, bool x) { auto v = scalar(ValueType::kBool); v.b = x; set(std::move(key), std::move(v)); }
void GgufWriter::set_string(std::string key, std::string x) { auto v = scalar(ValueType::kString); v.s = std::move(x); set(std::move(key), std::move(v)); }

void GgufWriter::set_string_array(std::string key, const std::vector<std::string>& xs) {
  auto v = scalar(ValueType::kArray);
  v.elem_type = ValueType::kString;
  for (const auto& x : xs) { auto e = scalar(ValueType::kString); e.s = x; v.items.push_back(std::move(e)); }
  set(std::move(key), std::move(v));
}
void GgufWriter::set_f32_array(std::string key, const std::vector<float>& xs) {
  auto v = scalar(ValueType::kArray);
  v.elem_type = ValueType::kF32;
  for (float x : xs) { auto e = scalar(ValueType::kF32); e.f = x; v.items.push_back(std::move(e)); }
  set(std::move(key), std::move(v));
}
void GgufWriter::set_i32_array(std::string key, const std::vector<std::int32_t>& xs) {
  auto v = scalar(ValueType::kArray);
  v.elem_type = ValueType::kI32;
  for (std::int32_t x : xs) { auto e = scalar(ValueType::kI32); e.i = x; v.items.push_back(std::move(e)); }
  set(std::move(key), std::move(v));
}

void GgufWriter::erase(std::string_view key) {
  for (auto it = kv_.begin(); it != kv_.end(); ++it) {
    if (it->first == key) {
      kv_.erase(it);
      return;
    }
  }
}

void GgufWriter::set_alignment(std::uint32_t alignment) {
  alignment_ = alignment;
  if (alignment != 32) set_u32("general.alignment", alignment);
}

Status GgufWriter::add_tensor(std::string name, std::vector<std::int64_t> dims, GgmlType type,
                              std::span<const std::byte> data) {
  for (const Tensor& t : tensors_) {
    if (t.name == name) return invalid_argument("GgufWriter: duplicate tensor '" + name + "'");
  }
  const GgmlTypeInfo info = ggml_type_info(type);
  if (dims.empty() || dims.size() > 4) return invalid_argument("GgufWriter: tensor '" + name + "' needs 1..4 dims");
  std::int64_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0) return invalid_argument("GgufWriter: tensor '" + name + "' has a negative dim");
    n *= d;
  }
  if (dims[0] % info.block_size != 0) {
    return invalid_argument("GgufWriter: tensor '" + name + "' row length is not a multiple of the block size");
  }
  const auto bytes = static_cast<std::size_t>(n / info.block_size * info.block_bytes);
  if (bytes != data.size()) {
    return invalid_argument("GgufWriter: tensor '" + name + "' needs " + std::to_string(bytes) + " bytes, got " +
                            std::to_string(data.size()));
  }
  tensors_.push_back(Tensor{std::move(name), std::move(dims), type, std::vector<std::byte>(data.begin(), data.end())});
  return Status::ok();
}

Status GgufWriter::add_tensor_f32(std::string name, std::vector<std::int64_t> dims, std::span<const float> data) {
  return add_tensor(std::move(name), std::move(dims), GgmlType::kF32, std::as_bytes(data));
}

namespace {

class Out {
 public:
  explicit Out(std::vector<std::uint8_t>& b) : b_(b) {}
  template <typename T>
  void put(T x) {
    const auto at = b_.size();
    b_.resize(at + sizeof(T));
    std::memcpy(b_.data() + at, &x, sizeof(T));
  }
  void str(std::string_view s) {
    put<std::uint64_t>(s.size());
    b_.insert(b_.end(), s.begin(), s.end());
  }
  void value(const OwnedValue& v) {
    switch (v.type) {
      case ValueType::kU8: put(static_cast<std::uint8_t>(v.u)); break;
      case ValueType::kI8: put(static_cast<std::int8_t>(v.i)); break;
      case ValueType::kU16: put(static_cast<std::uint16_t>(v.u)); break;
      case ValueType::kI16: put(static_cast<std::int16_t>(v.i)); break;
      case ValueType::kU32: put(static_cast<std::uint32_t>(v.u)); break;
      case ValueType::kI32: put(static_cast<std::int32_t>(v.i)); break;
      case ValueType::kU64: put(static_cast<std::uint64_t>(v.u)); break;
      case ValueType::kI64: put(static_cast<std::int64_t>(v.i)); break;
      case ValueType::kF32: put(static_cast<float>(v.f)); break;
      case ValueType::kF64: put(v.f); break;
      case ValueType::kBool: put(static_cast<std::uint8_t>(v.b ? 1 : 0)); break;
      case ValueType::kString: str(v.s); break;
      case ValueType::kArray:
        put(static_cast<std::uint32_t>(v.elem_type));
        put<std::uint64_t>(v.items.size());
        for (const auto& e : v.items) value(e);
        break;
    }
  }
  void pad(std::uint32_t alignment) {
    while (b_.size() % alignment != 0) b_.push_back(0);
  }

 private:
  std::vector<std::uint8_t>& b_;
};

std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

std::vector<std::uint8_t> GgufWriter::serialize() const {
  std::vector<std::uint8_t> bytes;
  Out out(bytes);
  out.put<std::uint32_t>(0x46554747);
  out.put<std::uint32_t>(3);
  out.put<std::uint64_t>(tensors_.size());
  out.put<std::uint64_t>(kv_.size());
  for (const auto& [k, v] : kv_) {
    out.str(k);
    out.put(static_cast<std::uint32_t>(v.type));
    out.value(v);
  }
  std::uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    out.str(t.name);
    out.put<std::uint32_t>(static_cast<std::uint32_t>(t.dims.size()));
    for (std::int64_t d : t.dims) out.put<std::uint64_t>(static_cast<std::uint64_t>(d));
    out.put(static_cast<std::uint32_t>(t.type));
    out.put<std::uint64_t>(offset);
    offset = align_up(offset + t.data.size(), alignment_);
  }
  out.pad(alignment_);
  for (const Tensor& t : tensors_) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(t.data.data());
    bytes.insert(bytes.end(), p, p + t.data.size());
    out.pad(alignment_);
  }
  return bytes;
}

Status GgufWriter::write_file(const std::string& path) const {
  const std::vector<std::uint8_t> bytes = serialize();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return unavailable(path + ": cannot open for writing");
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) return unavailable(path + ": write failed");
  return Status::ok();
}

}  // namespace parley::engine::gguf
