// safetensors reader/writer (format and checks: safetensors.h).
// Why: every length and offset in a model file is checked against the bytes present before any
// tensor is touched, so a bad file is a Status, never a wild read. Depends on json.h, half.h.
#include "shared/engine/safetensors/safetensors.h"


#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "shared/engine/half.h"
#include "shared/common/json_document.h"

namespace parley::safetensors {

namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100u * 1024u * 1024u;

struct DTypeEntry {
  DType type;
  std::string_view name;
  std::size_t size;
};
constexpr std::array<DTypeEntry, 15> kDTypes = {{
    {DType::kBool, "BOOL", 1}, {DType::kU8, "U8", 1},     {DType::kI8, "I8", 1},
    {DType::kF8E5M2, "F8_E5M2", 1}, {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kI16, "I16", 2},
    {DType::kU16, "U16", 2},   {DType::kF16, "F16", 2},   {DType::kBF16, "BF16", 2},
    {DType::kI32, "I32", 4},   {DType::kU32, "U32", 4},   {DType::kF32, "F32", 4},
    {DType::kF64, "F64", 8},   {DType::kI64, "I64", 8},   {DType::kU64, "U64", 8},
}};

template <typename T>
T load_le(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // little-endian host (x86-64, aarch64)
  return v;
}

}  // namespace

std::string_view dtype_name(DType t) {
  for (const auto& e : kDTypes) {
    if (e.type == t) return e.name;
  }
  return "?";
}
std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& e : kDTypes) {
    if (e.name == name) return e.type;
  }
  return std::nullopt;
}
std::size_t dtype_size(DType t) {
  for (const auto& e : kDTypes) {
    if (e.type == t) return e.size;
  }
  return 0;
}
std::optional<engine::DType> to_engine_dtype(DType t) {
  switch (t) {
    case DType::kF32: return engine::DType::kF32;
    case DType::kF16: return engine::DType::kF16;
    case DType::kBF16: return engine::DType::kBF16;
    case DType::kI8: return engine::DType::kI8;
    case DType::kI32: return engine::DType::kI32;
    default: return std::nullopt;
  }
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}
std::string TensorInfo::shape_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

File::~File() = default;

Result<std::shared_ptr<const File>> File::open(const std::string& path) {
  PARLEY_ASSIGN_OR_RETURN(engine::FileBytes bytes, engine::FileBytes::map(path, "safetensors"));
  std::shared_ptr<File> f(new File());
  f->name_ = path;
  f->file_ = std::move(bytes);
  f->bytes_ = f->file_.data();
  f->size_ = f->file_.size();
  PARLEY_RETURN_IF_ERROR(f->parse());
  return std::shared_ptr<const File>(std::move(f));
}

Result<std::shared_ptr<const File>> File::from_bytes(std::string bytes, std::string name) {
  std::shared_ptr<File> f(new File());
  f->name_ = std::move(name);
  f->file_ = engine::FileBytes::own(std::move(bytes));
  f->bytes_ = f->file_.data();
  f->size_ = f->file_.size();
  PARLEY_RETURN_IF_ERROR(f->parse());
  return std::shared_ptr<const File>(std::move(f));
}

Status File::parse() {
  const std::string where = "safetensors: " + name_ + ": ";
  if (size_ < 8) {
    return data_loss(where + "file is " + std::to_string(size_) + " bytes, shorter than the 8-byte header length");
  }
  const std::uint64_t header_len = load_le<std::uint64_t>(bytes_);
  if (header_len > kMaxHeaderBytes) {
    return invalid_argument(where + "header length " + std::to_string(header_len) + " exceeds the 100 MiB limit");
  }
  if (header_len > size_ - 8) {
    return data_loss(where + "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                     std::to_string(size_ - 8) + " bytes after the length field): truncated file?");
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes_ + 8), header_len);
  if (header.empty() || header.front() != '{') return invalid_argument(where + "header does not start with '{'");
  auto doc = json::parse(header, json::ParseOptions{.max_depth = 8});
  if (!doc.ok()) return invalid_argument(where + "bad header: " + doc.status().message());
  if (!doc->is_object()) return invalid_argument(where + "header is not a JSON object");

  const std::uint64_t buffer_size = size_ - 8 - header_len;
  const std::byte* buffer = bytes_ + 8 + header_len;
  for (const json::Member& m : doc->as_object()) {
    const std::string& key = m.first;
    const json::Value& v = m.second;
    if (key == "__metadata__") {
      if (!v.is_object()) return invalid_argument(where + "__metadata__ is not an object");
      for (const json::Member& kv : v.as_object()) {
        if (!kv.second.is_string()) {
          return invalid_argument(where + "__metadata__[\"" + kv.first + "\"] is not a string");
        }
        metadata_[kv.first] = kv.second.as_string();
      }
      continue;
    }
    const std::string tw = where + "tensor \"" + key + "\": ";
    if (!v.is_object()) return invalid_argument(tw + "entry is not an object");
    for (const json::Member& field : v.as_object()) {
      if (field.first != "dtype" && field.first != "shape" && field.first != "data_offsets") {
        return invalid_argument(tw + "unknown field \"" + field.first + "\"");
      }
    }
    TensorInfo t;
    t.name = key;
    const json::Value* dt = v.find("dtype");
    if (dt == nullptr || !dt->is_string()) return invalid_argument(tw + "missing or non-string \"dtype\"");
    auto parsed = parse_dtype(dt->as_string());
    if (!parsed) return invalid_argument(tw + "unknown dtype \"" + dt->as_string() + "\"");
    t.dtype = *parsed;
    const json::Value* shape = v.find("shape");
    if (shape == nullptr || !shape->is_array()) return invalid_argument(tw + "missing or non-array \"shape\"");
    if (shape->as_array().size() > 16) return invalid_argument(tw + "more than 16 dimensions");
    // Element count and byte count, each partial product checked against int64: a later zero
    // dimension would otherwise hide an overflow that TensorInfo::numel() then commits.
    std::int64_t elements = 1;
    std::int64_t signed_bytes = static_cast<std::int64_t>(dtype_size(t.dtype));
    for (const json::Value& d : shape->as_array()) {
      if (!d.as_int() || *d.as_int() < 0) return invalid_argument(tw + "shape has a non-integer or negative dimension");
      const std::int64_t dim = *d.as_int();
      t.shape.push_back(dim);
      if (__builtin_mul_overflow(elements, dim, &elements) || __builtin_mul_overflow(signed_bytes, dim, &signed_bytes)) {
        return invalid_argument(tw + "shape " + t.shape_string() + " overflows 63 bits");
      }
    }
    const auto bytes = static_cast<std::uint64_t>(signed_bytes);
    const json::Value* off = v.find("data_offsets");
    if (off == nullptr || !off->is_array() || off->as_array().size() != 2 || !off->as_array()[0].as_int() ||
        !off->as_array()[1].as_int() || *off->as_array()[0].as_int() < 0 || *off->as_array()[1].as_int() < 0) {
      return invalid_argument(tw + "\"data_offsets\" must be two non-negative integers");
    }
    t.begin = static_cast<std::uint64_t>(*off->as_array()[0].as_int());
    t.end = static_cast<std::uint64_t>(*off->as_array()[1].as_int());
    if (t.begin > t.end) {
      return invalid_argument(tw + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                              "] end before they begin");
    }
    if (t.end > buffer_size) {
      return data_loss(tw + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                       "] run past the data buffer (" + std::to_string(buffer_size) + " bytes): truncated file?");
    }
    if (t.end - t.begin != bytes) {
      return invalid_argument(tw + std::string(dtype_name(t.dtype)) + " " + t.shape_string() + " needs " +
                              std::to_string(bytes) + " bytes but data_offsets span " +
                              std::to_string(t.end - t.begin));
    }
    t.data = buffer + t.begin;
    index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // Tensors must tile the buffer exactly: no overlap (one byte feeding two tensors), no holes.
  std::vector<const TensorInfo*> order;
  order.reserve(tensors_.size());
  for (const TensorInfo& t : tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t cursor = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : order) {
    if (t->begin < cursor) {
      return invalid_argument(where + "tensor \"" + t->name + "\" [" + std::to_string(t->begin) + ", " +
                              std::to_string(t->end) + ") overlaps \"" + (prev ? prev->name : "") + "\"");
    }
    if (t->begin > cursor) {
      return invalid_argument(where + "hole in the data buffer at [" + std::to_string(cursor) + ", " +
                              std::to_string(t->begin) + ") before tensor \"" + t->name + "\"");
    }
    cursor = t->end;
    prev = t;
  }
  if (cursor != buffer_size) {
    return invalid_argument(where + "data buffer has " + std::to_string(buffer_size - cursor) +
                            " trailing bytes after the last tensor (offset " + std::to_string(cursor) + ")");
  }
  return Status::ok();
}

const TensorInfo* File::find(std::string_view tensor_name) const {
  auto it = index_.find(tensor_name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::vector<float>> File::to_f32(const TensorInfo& t) const {
  const std::size_t n = static_cast<std::size_t>(t.numel());
  std::vector<float> out(n);
  const std::byte* p = t.data;
  switch (t.dtype) {
    case DType::kF32: std::memcpy(out.data(), p, n * 4); break;
    case DType::kF16:
      for (std::size_t i = 0; i < n; ++i) out[i] = engine::f16_to_f32(load_le<std::uint16_t>(p + 2 * i));
      break;
    case DType::kBF16:
      for (std::size_t i = 0; i < n; ++i) out[i] = engine::bf16_to_f32(load_le<std::uint16_t>(p + 2 * i));
      break;
    case DType::kF64:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<double>(p + 8 * i));
      break;
    case DType::kI8:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<std::int8_t>(p + i));
      break;
    case DType::kU8:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<std::uint8_t>(p + i));
      break;
    case DType::kI16:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<std::int16_t>(p + 2 * i));
      break;
    case DType::kI32:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<std::int32_t>(p + 4 * i));
      break;
    case DType::kI64:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<std::int64_t>(p + 8 * i));
      break;
    default:
      return invalid_argument("safetensors: " + name_ + ": tensor \"" + t.name + "\" has dtype " +
                              std::string(dtype_name(t.dtype)) + ", which cannot be read as f32");
  }
  return out;
}

TensorData f32_tensor(std::string name, std::vector<std::int64_t> shape, std::span<const float> values) {
  TensorData t;
  t.name = std::move(name);
  t.dtype = DType::kF32;
  t.shape = std::move(shape);
  t.bytes.assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  return t;
}

Result<std::string> serialize(const std::vector<TensorData>& tensors, const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  bool first = true;
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') q.push_back('\\');
      q.push_back(c);
    }
    return q + "\"";
  };
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool f = true;
    for (const auto& [k, v] : metadata) {
      if (!f) header += ",";
      f = false;
      header += quote(k) + ":" + quote(v);
    }
    header += "}";
    first = false;
  }
  std::uint64_t offset = 0;
  std::map<std::string, int> seen;
  for (const TensorData& t : tensors) {
    if (seen[t.name]++ > 0) return invalid_argument("safetensors: tensor name \"" + t.name + "\" repeats");
    std::uint64_t want = dtype_size(t.dtype);
    for (std::int64_t d : t.shape) want *= static_cast<std::uint64_t>(d);
    if (want != t.bytes.size()) {
      return invalid_argument("safetensors: tensor \"" + t.name + "\" has " + std::to_string(t.bytes.size()) +
                              " bytes, its shape needs " + std::to_string(want));
    }
    if (!first) header += ",";
    first = false;
    header += quote(t.name) + ":{\"dtype\":\"" + std::string(dtype_name(t.dtype)) + "\",\"shape\":[";
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      if (i) header += ",";
      header += std::to_string(t.shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + want) + "]}";
    offset += want;
  }
  header += "}";
  while (header.size() % 8 != 0) header.push_back(' ');
  std::string out(8, '\0');
  const std::uint64_t len = header.size();
  std::memcpy(out.data(), &len, 8);
  out += header;
  for (const TensorData& t : tensors) out += t.bytes;
  return out;
}

Status write_file(const std::string& path, const std::vector<TensorData>& tensors,
                  const std::map<std::string, std::string>& metadata) {
  PARLEY_ASSIGN_OR_RETURN(std::string bytes, serialize(tensors, metadata));
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return unavailable("safetensors: cannot write " + path);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) return unavailable("safetensors: short write to " + path);
  return Status::ok();
}

}  // namespace parley::safetensors
