// Reader for GGUF (v2, v3) model files: metadata key/values, tensor infos and tensor data in one
// memory-mapped file. Why: LMs ship as GGUF (llama.cpp's format); tokenizers read their
// vocabularies from the same files. Depends on shared/common (Status), gguf/ggml_type.h.
//
// File format (little-endian; "str" = u64 length + that many UTF-8 bytes, no terminator):
//   u32 magic "GGUF" (bytes 47 47 55 46), u32 version (2 or 3; v1 used 32-bit counts: refused),
//   u64 tensor_count, u64 kv_count,
//   kv_count x { str key, u32 value_type, value }
//     value_type: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool (1 byte, 0/1), 8 str,
//                 9 array = { u32 elem_type, u64 count, count x value } (arrays may nest),
//                 10 u64, 11 i64, 12 f64
//   tensor_count x { str name, u32 n_dims (1..4), n_dims x u64 dims (fastest-varying first:
//                    dims = (cols, rows) for a row-major [rows][cols] matrix), u32 ggml_type,
//                    u64 offset (relative to the data section, a multiple of the alignment) }
//   padding to a multiple of the alignment (general.alignment, u32, power of two; default 32)
//   data section: the tensors' bytes.
// Checks (each failure is a Status naming the file, what is wrong and where: byte offset, key,
// tensor name): magic; version; big-endian files recognised and refused; every count, string
// length and array length against the bytes left; arrays nested at most 8 deep; duplicate keys
// and tensor names; alignment a power of two; n_dims, dims >= 0, element count overflow, row
// length a multiple of the type's block size; unknown ggml types; tensor offsets aligned and
// their bytes inside the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"
#include "shared/engine/gguf/ggml_type.h"

namespace parley::engine::gguf {

/// Metadata value types (the numbers are the file format).
enum class ValueType : std::uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
/// "u8", "i32", "string", "array", ...
std::string_view value_type_name(ValueType t);

/// One metadata value. Integers are held widened (u64 for unsigned, i64 for signed), floats as
/// f64; strings as views into the file's bytes (valid while the GgufFile lives). Arrays hold
/// their element type and elements (which may be arrays).
struct Value {
  ValueType type = ValueType::kU8;
  std::uint64_t u = 0;      ///< kU8, kU16, kU32, kU64
  std::int64_t i = 0;       ///< kI8, kI16, kI32, kI64
  double f = 0.0;           ///< kF32, kF64
  bool b = false;           ///< kBool
  std::string_view s;       ///< kString
  ValueType elem_type = ValueType::kU8;  ///< kArray: declared element type
  std::vector<Value> items;              ///< kArray: elements

  bool is_integer() const;
  /// The integer value if this is an integer type and the value fits in T.
  std::optional<std::int64_t> as_i64() const;
  std::optional<std::uint64_t> as_u64() const;
  /// f32/f64 (and integers, converted).
  std::optional<double> as_f64() const;
  /// Short rendering for logs and `parley model inspect`: arrays as "[string x 49152]" or the
  /// first few elements.
  std::string to_string(std::size_t max_items = 8) const;
};

/// One tensor. `data` points into the file's bytes (aligned to the file's alignment relative to
/// the start of the file) and is valid while the GgufFile lives.
struct TensorInfo {
  std::string name;
  std::vector<std::int64_t> dims;  ///< as stored: fastest-varying first
  GgmlType type = GgmlType::kF32;
  std::uint64_t offset = 0;        ///< relative to the data section
  std::int64_t n_elements = 0;
  std::uint64_t n_bytes = 0;
  std::span<const std::byte> data;

  /// Row length (dims[0]) and number of rows (product of the other dims) of the row-major view.
  std::int64_t cols() const { return dims.empty() ? 1 : dims[0]; }
  std::int64_t rows() const { return cols() == 0 ? 0 : n_elements / cols(); }
  /// Shape in row-major order (slowest first), e.g. "[49152, 576]".
  std::string shape_string() const;
  std::string type_name() const { return std::string(ggml_type_info(type).name); }
};

/// An open GGUF file (memory-mapped read-only, or bytes held in memory).
///
///   PARLEY_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
///   PARLEY_ASSIGN_OR_RETURN(std::string arch, file->get_string("general.architecture"));
///   PARLEY_ASSIGN_OR_RETURN(std::uint32_t layers, file->get_u32(arch + ".block_count"));
///   PARLEY_ASSIGN_OR_RETURN(auto tokens, file->get_string_array("tokenizer.ggml.tokens"));
///   PARLEY_ASSIGN_OR_RETURN(const TensorInfo* t, file->tensor("token_embd.weight"));
///
/// Immutable after open: any number of threads may read it concurrently. The mapping lives as
/// long as the last shared_ptr; views (Value::s, TensorInfo::data) must not outlive it.
class GgufFile {
 public:
  /// Maps and validates `path`. NotFound when it does not exist; InvalidArgument/DataLoss for a
  /// truncated or corrupt file (message: "<path>: <what> at offset N ...").
  static Result<std::shared_ptr<const GgufFile>> open(const std::string& path);
  /// Validates and takes ownership of a whole file's bytes (tests, fuzzing, the writer).
  static Result<std::shared_ptr<const GgufFile>> from_bytes(std::vector<std::uint8_t> bytes,
                                                             std::string name = "<memory>");

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& name() const { return name_; }
  std::uint32_t version() const { return version_; }
  std::uint32_t alignment() const { return alignment_; }
  std::uint64_t data_offset() const { return data_offset_; }
  std::uint64_t file_size() const { return size_; }

  /// Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  /// nullptr when absent.
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  /// Typed getters: NotFound "<file>: missing key 'k'" when absent; InvalidArgument naming the
  /// key and its actual type when the type does not convert. Integer getters accept any integer
  /// type whose value fits; get_f32 accepts f32, f64 and integers.
  Result<std::string> get_string(std::string_view key) const;
  Result<std::uint32_t> get_u32(std::string_view key) const;
  Result<std::int32_t> get_i32(std::string_view key) const;
  Result<std::uint64_t> get_u64(std::string_view key) const;
  Result<float> get_f32(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  /// Same, but `fallback` when the key is absent (a present key of the wrong type is an error).
  Result<std::uint32_t> get_u32_or(std::string_view key, std::uint32_t fallback) const;
  Result<float> get_f32_or(std::string_view key, float fallback) const;
  Result<bool> get_bool_or(std::string_view key, bool fallback) const;
  /// Arrays (elements converted as by the scalar getters; the error names the element index).
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<float>> get_f32_array(std::string_view key) const;
  Result<std::vector<std::int32_t>> get_i32_array(std::string_view key) const;

  /// Tensors in file order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  /// nullptr when absent.
  const TensorInfo* find_tensor(std::string_view name) const;
  /// NotFound "<file>: no tensor 'name'" when absent.
  Result<const TensorInfo*> tensor(std::string_view name) const;
  /// Bytes [offset, offset+len) of a tensor's data, bounds-checked (OutOfRange otherwise).
  Result<std::span<const std::byte>> tensor_bytes(const TensorInfo& t, std::uint64_t offset,
                                                  std::uint64_t len) const;

 private:
  struct Storage;
  GgufFile() = default;
  static Result<std::shared_ptr<const GgufFile>> parse(std::unique_ptr<Storage> storage, std::string name);
  Status error_key(std::string_view key, std::string_view what) const;

  std::unique_ptr<Storage> storage_;
  std::string name_;
  const std::byte* base_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint32_t version_ = 0;
  std::uint32_t alignment_ = 32;
  std::uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, std::size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> tensor_index_;
};

}  // namespace parley::engine::gguf
