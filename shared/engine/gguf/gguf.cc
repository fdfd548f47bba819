// GGUF reader: mmap (RAII), a bounds-checked cursor over the header, typed getters.
// Why: a model file is input from outside; every length and offset is checked against the bytes
// left so a bad file is a Status, never a crash. Depends on gguf.h, POSIX mmap.
#include "shared/engine/gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <sstream>

namespace parley::engine::gguf {

// Owns the bytes: either a read-only mapping or a vector.
struct GgufFile::Storage {
  void* map = nullptr;
  std::size_t map_len = 0;
  std::vector<std::uint8_t> bytes;

  ~Storage() {
    if (map != nullptr) munmap(map, map_len);
  }
  const std::byte* data() const {
    return map != nullptr ? static_cast<const std::byte*>(map) : reinterpret_cast<const std::byte*>(bytes.data());
  }
  std::size_t size() const { return map != nullptr ? map_len : bytes.size(); }
};

namespace {

constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr int kMaxArrayDepth = 8;
constexpr std::uint32_t kMaxDims = 4;

std::string_view kTypeNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                 "string", "array", "u64", "i64", "f64"};

// Smallest encoded size of one value of a type: lets counts be checked against the bytes left
// before anything is allocated.
std::uint64_t min_value_bytes(ValueType t) {
  switch (t) {
    case ValueType::kU8: case ValueType::kI8: case ValueType::kBool: return 1;
    case ValueType::kU16: case ValueType::kI16: return 2;
    case ValueType::kU32: case ValueType::kI32: case ValueType::kF32: return 4;
    case ValueType::kU64: case ValueType::kI64: case ValueType::kF64: return 8;
    case ValueType::kString: return 8;
    case ValueType::kArray: return 12;
  }
  return 1;
}

class Cursor {
 public:
  Cursor(const std::byte* base, std::uint64_t size, const std::string& name)
      : base_(base), size_(size), name_(name) {}

  std::uint64_t pos() const { return pos_; }
  std::uint64_t left() const { return size_ - pos_; }
  void seek(std::uint64_t p) { pos_ = p; }

  Status fail(std::string what, std::uint64_t at) const {
    return data_loss(name_ + ": " + what + " at offset " + std::to_string(at));
  }

  template <typename T>
  Status read(T& out, std::string_view what) {
    if (left() < sizeof(T)) {
      return fail("file truncated: " + std::string(what) + " needs " + std::to_string(sizeof(T)) +
                      " bytes, " + std::to_string(left()) + " left",
                  pos_);
    }
    std::memcpy(&out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::ok();
  }

  Status read_string(std::string_view& out, std::string_view what) {
    const std::uint64_t at = pos_;
    std::uint64_t len = 0;
    PARLEY_RETURN_IF_ERROR(read(len, std::string(what) + " length"));
    if (len > left()) {
      return fail(std::string(what) + " of length " + std::to_string(len) + " runs past the end of the file (" +
                      std::to_string(left()) + " bytes left)",
                  at);
    }
    out = std::string_view(reinterpret_cast<const char*>(base_ + pos_), static_cast<std::size_t>(len));
    pos_ += len;
    return Status::ok();
  }

 private:
  const std::byte* base_;
  std::uint64_t size_;
  std::uint64_t pos_ = 0;
  const std::string& name_;
};

bool valid_value_type(std::uint32_t t) { return t <= static_cast<std::uint32_t>(ValueType::kF64); }

Status read_value(Cursor& c, ValueType type, Value& v, const std::string& key, int depth) {
  v.type = type;
  const std::uint64_t at = c.pos();
  switch (type) {
    case ValueType::kU8: { std::uint8_t x; PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'")); v.u = x; return Status::ok(); }
    case ValueType::kI8: { std::int8_t x; PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'")); v.i = x; return Status::ok(); }
    case ValueType::kU16: { std::uint16_t x; PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'")); v.u = x; return Status::ok(); }
    case ValueType::kI16: { std::int16_t x; PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'")); v.i = x; return Status::ok(); }
    case ValueType::kU32: { std::uint32_t x; PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'")); v.u = x; return Status::ok(); }
    case ValueType::kI32: { std::int32_t x; PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'")); v.i = x; return Status::ok(); }
    case ValueType::kU64: { std::uint64_t x; PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'")); v.u = x; return Status::ok(); }
    case ValueType::kI64: { std::int64_t x; PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'")); v.i = x; return Status::ok(); }
    case ValueType::kF32: { float x; PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'")); v.f = x; return Status::ok(); }
    case ValueType::kF64: { double x; PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'")); v.f = x; return Status::ok(); }
    case ValueType::kBool: {
      std::uint8_t x;
      PARLEY_RETURN_IF_ERROR(c.read(x, "value of '" + key + "'"));
      if (x > 1) return c.fail("bool value of key '" + key + "' is " + std::to_string(x) + " (must be 0 or 1)", at);
      v.b = x != 0;
      return Status::ok();
    }
    case ValueType::kString: return c.read_string(v.s, "string value of key '" + key + "'");
    case ValueType::kArray: {
      if (depth >= kMaxArrayDepth) {
        return c.fail("arrays of key '" + key + "' nested deeper than " + std::to_string(kMaxArrayDepth), at);
      }
      std::uint32_t et = 0;
      std::uint64_t count = 0;
      PARLEY_RETURN_IF_ERROR(c.read(et, "array element type of '" + key + "'"));
      if (!valid_value_type(et)) {
        return c.fail("unknown array element type " + std::to_string(et) + " for key '" + key + "'", at);
      }
      PARLEY_RETURN_IF_ERROR(c.read(count, "array length of '" + key + "'"));
      v.elem_type = static_cast<ValueType>(et);
      const std::uint64_t min_bytes = min_value_bytes(v.elem_type);
      if (count > c.left() / min_bytes) {
        return c.fail("array of key '" + key + "' declares " + std::to_string(count) + " " +
                          std::string(value_type_name(v.elem_type)) + " elements but only " +
                          std::to_string(c.left()) + " bytes are left",
                      at);
      }
      v.items.resize(static_cast<std::size_t>(count));
      for (std::uint64_t j = 0; j < count; ++j) {
        Status s = read_value(c, v.elem_type, v.items[j], key, depth + 1);
        if (!s.is_ok()) return s.with_context("element " + std::to_string(j));
      }
      return Status::ok();
    }
  }
  return c.fail("unknown value type for key '" + key + "'", at);
}

bool mul_overflows(std::int64_t a, std::int64_t b, std::int64_t& out) {
  return __builtin_mul_overflow(a, b, &out);
}

}  // namespace

std::string_view value_type_name(ValueType t) {
  const auto i = static_cast<std::uint32_t>(t);
  return i < std::size(kTypeNames) ? kTypeNames[i] : std::string_view("invalid");
}

bool Value::is_integer() const {
  switch (type) {
    case ValueType::kU8: case ValueType::kU16: case ValueType::kU32: case ValueType::kU64:
    case ValueType::kI8: case ValueType::kI16: case ValueType::kI32: case ValueType::kI64:
      return true;
    default:
      return false;
  }
}

std::optional<std::int64_t> Value::as_i64() const {
  switch (type) {
    case ValueType::kU8: case ValueType::kU16: case ValueType::kU32: case ValueType::kU64:
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
      return static_cast<std::int64_t>(u);
    case ValueType::kI8: case ValueType::kI16: case ValueType::kI32: case ValueType::kI64:
      return i;
    default:
      return std::nullopt;
  }
}

std::optional<std::uint64_t> Value::as_u64() const {
  switch (type) {
    case ValueType::kU8: case ValueType::kU16: case ValueType::kU32: case ValueType::kU64:
      return u;
    case ValueType::kI8: case ValueType::kI16: case ValueType::kI32: case ValueType::kI64:
      if (i < 0) return std::nullopt;
      return static_cast<std::uint64_t>(i);
    default:
      return std::nullopt;
  }
}

std::optional<double> Value::as_f64() const {
  if (type == ValueType::kF32 || type == ValueType::kF64) return f;
  if (auto x = as_i64()) return static_cast<double>(*x);
  if (auto x = as_u64()) return static_cast<double>(*x);
  return std::nullopt;
}

std::string Value::to_string(std::size_t max_items) const {
  std::ostringstream os;
  switch (type) {
    case ValueType::kU8: case ValueType::kU16: case ValueType::kU32: case ValueType::kU64: os << u; break;
    case ValueType::kI8: case ValueType::kI16: case ValueType::kI32: case ValueType::kI64: os << i; break;
    case ValueType::kF32: case ValueType::kF64: os << f; break;
    case ValueType::kBool: os << (b ? "true" : "false"); break;
    case ValueType::kString: {
      constexpr std::size_t kMax = 80;
      os << '"' << s.substr(0, kMax) << (s.size() > kMax ? "...\"" : "\"");
      break;
    }
    case ValueType::kArray: {
      if (items.size() > max_items) {
        os << '[' << value_type_name(elem_type) << " x " << items.size() << ']';
        break;
      }
      os << '[';
      for (std::size_t j = 0; j < items.size(); ++j) os << (j ? ", " : "") << items[j].to_string(max_items);
      os << ']';
      break;
    }
  }
  return os.str();
}

std::string TensorInfo::shape_string() const {
  std::string out = "[";
  for (std::size_t j = dims.size(); j-- > 0;) {
    out += std::to_string(dims[j]);
    if (j != 0) out += ", ";
  }
  return out + "]";
}

GgufFile::~GgufFile() = default;

Result<std::shared_ptr<const GgufFile>> GgufFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string msg = path + ": cannot open: " + std::strerror(err);
    return err == ENOENT ? not_found(msg) : Status(StatusCode::kUnavailable, msg);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_argument(path + ": not a regular file");
  }
  auto storage = std::make_unique<Storage>();
  if (st.st_size > 0) {
    void* m = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return unavailable(path + ": mmap failed: " + std::strerror(err));
    }
    storage->map = m;
    storage->map_len = static_cast<std::size_t>(st.st_size);
  }
  ::close(fd);
  return parse(std::move(storage), path);
}

Result<std::shared_ptr<const GgufFile>> GgufFile::from_bytes(std::vector<std::uint8_t> bytes, std::string name) {
  auto storage = std::make_unique<Storage>();
  storage->bytes = std::move(bytes);
  return parse(std::move(storage), std::move(name));
}

Result<std::shared_ptr<const GgufFile>> GgufFile::parse(std::unique_ptr<Storage> storage, std::string name) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->storage_ = std::move(storage);
  f->name_ = std::move(name);
  f->base_ = f->storage_->data();
  f->size_ = f->storage_->size();
  Cursor c(f->base_, f->size_, f->name_);

  std::uint32_t magic = 0;
  PARLEY_RETURN_IF_ERROR(c.read(magic, "magic"));
  if (magic != kMagic) {
    char shown[5] = {};
    std::memcpy(shown, &magic, 4);
    for (char& ch : shown) if (ch != 0 && (ch < 32 || ch > 126)) ch = '?';
    return c.fail("bad magic '" + std::string(shown, 4) + "' (not a GGUF file; expected 'GGUF')", 0);
  }
  PARLEY_RETURN_IF_ERROR(c.read(f->version_, "version"));
  if (f->version_ == 0x02000000u || f->version_ == 0x03000000u) {
    return Status(StatusCode::kUnimplemented, f->name_ + ": big-endian GGUF files are not supported (offset 4)");
  }
  if (f->version_ != 2 && f->version_ != 3) {
    return Status(StatusCode::kUnimplemented,
                  f->name_ + ": unsupported GGUF version " + std::to_string(f->version_) +
                      " at offset 4 (supported: 2, 3)");
  }
  std::uint64_t n_tensors = 0, n_kv = 0;
  const std::uint64_t counts_at = c.pos();
  PARLEY_RETURN_IF_ERROR(c.read(n_tensors, "tensor count"));
  PARLEY_RETURN_IF_ERROR(c.read(n_kv, "metadata count"));
  // Each kv needs >= 8 (key length) + 4 (type) + 1 bytes; each tensor info >= 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.left() / 13) {
    return c.fail("metadata count " + std::to_string(n_kv) + " is larger than the file can hold", counts_at + 8);
  }
  if (n_tensors > c.left() / 32) {
    return c.fail("tensor count " + std::to_string(n_tensors) + " is larger than the file can hold", counts_at);
  }

  f->kv_.reserve(static_cast<std::size_t>(n_kv));
  for (std::uint64_t j = 0; j < n_kv; ++j) {
    const std::uint64_t at = c.pos();
    std::string_view key;
    PARLEY_RETURN_IF_ERROR(c.read_string(key, "key of metadata entry " + std::to_string(j)));
    std::string k(key);
    if (f->kv_index_.count(k) != 0) return c.fail("duplicate metadata key '" + k + "'", at);
    std::uint32_t type = 0;
    const std::uint64_t type_at = c.pos();
    PARLEY_RETURN_IF_ERROR(c.read(type, "value type of '" + k + "'"));
    if (!valid_value_type(type)) {
      return c.fail("unknown value type " + std::to_string(type) + " for key '" + k + "'", type_at);
    }
    Value v;
    PARLEY_RETURN_IF_ERROR(read_value(c, static_cast<ValueType>(type), v, k, 0));
    f->kv_index_.emplace(k, f->kv_.size());
    f->kv_.emplace_back(std::move(k), std::move(v));
  }

  if (const Value* a = f->find("general.alignment")) {
    auto al = a->as_u64();
    if (a->type != ValueType::kU32 || !al || *al == 0 || (*al & (*al - 1)) != 0) {
      return data_loss(f->name_ + ": general.alignment must be a u32 power of two, got " +
                       std::string(value_type_name(a->type)) + " " + a->to_string());
    }
    f->alignment_ = static_cast<std::uint32_t>(*al);
  }

  f->tensors_.reserve(static_cast<std::size_t>(n_tensors));
  for (std::uint64_t j = 0; j < n_tensors; ++j) {
    const std::uint64_t at = c.pos();
    TensorInfo t;
    std::string_view nm;
    PARLEY_RETURN_IF_ERROR(c.read_string(nm, "name of tensor " + std::to_string(j)));
    t.name = std::string(nm);
    if (f->tensor_index_.count(t.name) != 0) return c.fail("duplicate tensor name '" + t.name + "'", at);
    const std::string where = "tensor '" + t.name + "'";
    std::uint32_t n_dims = 0;
    PARLEY_RETURN_IF_ERROR(c.read(n_dims, "n_dims of " + where));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return c.fail(where + " has " + std::to_string(n_dims) + " dimensions (must be 1..4)", c.pos() - 4);
    }
    t.n_elements = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      std::int64_t dim = 0;
      PARLEY_RETURN_IF_ERROR(c.read(dim, "dimension of " + where));
      if (dim < 0) return c.fail(where + " has a negative dimension " + std::to_string(dim), c.pos() - 8);
      if (mul_overflows(t.n_elements, dim, t.n_elements)) {
        return c.fail(where + " has too many elements (overflow)", c.pos() - 8);
      }
      t.dims.push_back(dim);
    }
    std::uint32_t type = 0;
    const std::uint64_t type_at = c.pos();
    PARLEY_RETURN_IF_ERROR(c.read(type, "type of " + where));
    auto info = ggml_type_info(type);
    if (!info) return c.fail(where + " has unknown ggml type " + std::to_string(type), type_at);
    t.type = info->type;
    if (t.dims[0] % info->block_size != 0) {
      return c.fail(where + " row length " + std::to_string(t.dims[0]) + " is not a multiple of the " +
                        std::string(info->name) + " block size " + std::to_string(info->block_size),
                    at);
    }
    std::int64_t bytes = 0;
    if (mul_overflows(t.n_elements / info->block_size, info->block_bytes, bytes)) {
      return c.fail(where + " byte size overflows", at);
    }
    t.n_bytes = static_cast<std::uint64_t>(bytes);
    const std::uint64_t off_at = c.pos();
    PARLEY_RETURN_IF_ERROR(c.read(t.offset, "data offset of " + where));
    if (t.offset % f->alignment_ != 0) {
      return c.fail(where + " data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                        std::to_string(f->alignment_),
                    off_at);
    }
    f->tensor_index_.emplace(t.name, f->tensors_.size());
    f->tensors_.push_back(std::move(t));
  }

  const std::uint64_t header_end = c.pos();
  const std::uint64_t pad = (f->alignment_ - header_end % f->alignment_) % f->alignment_;
  f->data_offset_ = header_end + pad;
  if (!f->tensors_.empty() && f->data_offset_ > f->size_) {
    return c.fail("file truncated: data section should start at " + std::to_string(f->data_offset_) +
                      " but the file has " + std::to_string(f->size_) + " bytes",
                  header_end);
  }
  const std::uint64_t data_size = f->data_offset_ <= f->size_ ? f->size_ - f->data_offset_ : 0;
  for (TensorInfo& t : f->tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      return data_loss(f->name_ + ": tensor '" + t.name + "' data [" + std::to_string(f->data_offset_ + t.offset) +
                       ", " + std::to_string(f->data_offset_ + t.offset + t.n_bytes) + ") runs past the end of the file (" +
                       std::to_string(f->size_) + " bytes)");
    }
    t.data = std::span<const std::byte>(f->base_ + f->data_offset_ + t.offset, static_cast<std::size_t>(t.n_bytes));
  }
  return std::shared_ptr<const GgufFile>(std::move(f));
}

const Value* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

Status GgufFile::error_key(std::string_view key, std::string_view what) const {
  return invalid_argument(name_ + ": key '" + std::string(key) + "' " + std::string(what));
}

namespace {

std::string type_of(const Value& v) {
  if (v.type == ValueType::kArray) return "array of " + std::string(value_type_name(v.elem_type));
  return std::string(value_type_name(v.type));
}

template <typename T>
std::optional<T> to_int(const Value& v) {
  if constexpr (std::is_signed_v<T>) {
    auto x = v.as_i64();
    if (!x || *x < std::numeric_limits<T>::min() || *x > std::numeric_limits<T>::max()) return std::nullopt;
    return static_cast<T>(*x);
  } else {
    auto x = v.as_u64();
    if (!x || *x > std::numeric_limits<T>::max()) return std::nullopt;
    return static_cast<T>(*x);
  }
}

}  // namespace

#define PARLEY_GGUF_FIND_(key)                                                          \
  const Value* v = find(key);                                                           \
  if (v == nullptr) return not_found(name_ + ": missing key '" + std::string(key) + "'")

Result<std::string> GgufFile::get_string(std::string_view key) const {
  PARLEY_GGUF_FIND_(key);
  if (v->type != ValueType::kString) return error_key(key, "is " + type_of(*v) + ", expected string");
  return std::string(v->s);
}

Result<std::uint32_t> GgufFile::get_u32(std::string_view key) const {
  PARLEY_GGUF_FIND_(key);
  auto x = to_int<std::uint32_t>(*v);
  if (!x) return error_key(key, "is " + type_of(*v) + " " + v->to_string() + ", expected an integer in u32 range");
  return *x;
}

Result<std::int32_t> GgufFile::get_i32(std::string_view key) const {
  PARLEY_GGUF_FIND_(key);
  auto x = to_int<std::int32_t>(*v);
  if (!x) return error_key(key, "is " + type_of(*v) + " " + v->to_string() + ", expected an integer in i32 range");
  return *x;
}

Result<std::uint64_t> GgufFile::get_u64(std::string_view key) const {
  PARLEY_GGUF_FIND_(key);
  auto x = v->as_u64();
  if (!x) return error_key(key, "is " + type_of(*v) + " " + v->to_string() + ", expected a non-negative integer");
  return *x;
}

Result<float> GgufFile::get_f32(std::string_view key) const {
  PARLEY_GGUF_FIND_(key);
  auto x = v->as_f64();
  if (!x) return error_key(key, "is " + type_of(*v) + ", expected a number");
  return static_cast<float>(*x);
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  PARLEY_GGUF_FIND_(key);
  if (v->type != ValueType::kBool) return error_key(key, "is " + type_of(*v) + ", expected bool");
  return v->b;
}

#undef PARLEY_GGUF_FIND_

Result<std::uint32_t> GgufFile::get_u32_or(std::string_view key, std::uint32_t fallback) const {
  return has(key) ? get_u32(key) : Result<std::uint32_t>(fallback);
}
Result<float> GgufFile::get_f32_or(std::string_view key, float fallback) const {
  return has(key) ? get_f32(key) : Result<float>(fallback);
}
Result<bool> GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  return has(key) ? get_bool(key) : Result<bool>(fallback);
}

namespace {

template <typename T, typename Fn>
Result<std::vector<T>> convert_array(const GgufFile& f, std::string_view key, std::string_view want, Fn conv) {
  const Value* v = f.find(key);
  if (v == nullptr) return not_found(f.name() + ": missing key '" + std::string(key) + "'");
  if (v->type != ValueType::kArray) {
    return invalid_argument(f.name() + ": key '" + std::string(key) + "' is " + type_of(*v) + ", expected array of " +
                            std::string(want));
  }
  std::vector<T> out;
  out.reserve(v->items.size());
  for (std::size_t j = 0; j < v->items.size(); ++j) {
    std::optional<T> x = conv(v->items[j]);
    if (!x) {
      return invalid_argument(f.name() + ": key '" + std::string(key) + "' element " + std::to_string(j) + " is " +
                              type_of(v->items[j]) + ", expected " + std::string(want));
    }
    out.push_back(std::move(*x));
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  return convert_array<std::string>(*this, key, "string", [](const Value& e) -> std::optional<std::string> {
    if (e.type != ValueType::kString) return std::nullopt;
    return std::string(e.s);
  });
}

Result<std::vector<float>> GgufFile::get_f32_array(std::string_view key) const {
  return convert_array<float>(*this, key, "f32", [](const Value& e) -> std::optional<float> {
    auto x = e.as_f64();
    if (!x) return std::nullopt;
    return static_cast<float>(*x);
  });
}

Result<std::vector<std::int32_t>> GgufFile::get_i32_array(std::string_view key) const {
  return convert_array<std::int32_t>(*this, key, "i32", [](const Value& e) { return to_int<std::int32_t>(e); });
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<const TensorInfo*> GgufFile::tensor(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (t == nullptr) return not_found(name_ + ": no tensor '" + std::string(name) + "'");
  return t;
}

Result<std::span<const std::byte>> GgufFile::tensor_bytes(const TensorInfo& t, std::uint64_t offset,
                                                          std::uint64_t len) const {
  if (offset > t.n_bytes || len > t.n_bytes - offset) {
    return out_of_range(name_ + ": bytes [" + std::to_string(offset) + ", +" + std::to_string(len) +
                        ") are outside tensor '" + t.name + "' (" + std::to_string(t.n_bytes) + " bytes)");
  }
  return t.data.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(len));
}

}  // namespace parley::engine::gguf
