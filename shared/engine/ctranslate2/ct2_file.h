// Reader (and a small writer) for CTranslate2's model.bin: named variables with shape, dtype and
// raw data in one memory-mapped file, plus aliases.
// Why: Whisper models for faster-whisper ship in this format (WhisperSpec); the ASR engine reads
// their weights through this without copying. Depends on shared/common, shared/engine (DType).
//
// File format (all integers little-endian; "string" = u16 byte length L, then L bytes whose last
// byte is a NUL terminator that is not part of the string):
//   u32    binary_version            (4, 5 or 6 are read; CTranslate2 writes 6)
//   string spec_name                 ("WhisperSpec", "TransformerSpec", ...)
//   u32    spec_revision
//   u32    num_variables
//   num_variables times:
//     string name                    ("encoder/layer_0/ffn/linear_0/weight")
//     u8     rank
//     u32    dims[rank]              (row-major, outermost first)
//     u8     dtype                   (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16)
//     u32    num_bytes               (== product(dims) * dtype size)
//     num_bytes of data
//   u32    num_aliases
//   num_aliases times: string alias, string target variable name
// Scalars (rank 0) hold one element (e.g. "encoder/num_heads" i16 = 6). INT8-quantized weights
// come with "<name>_scale" f32 [rows] (w = q / scale). The file must end right after the aliases.
// Checks (each failure is InvalidArgument/DataLoss naming the file, the variable and the byte
// offset): every read fits in the bytes left; strings end in NUL and are < 64 KiB; rank <= 8;
// dims fit and product * size == num_bytes without overflow; dtype known; names unique; aliases
// point at existing variables; no trailing bytes; at most 1 << 20 variables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"
#include "shared/engine/dtype.h"
#include "shared/engine/file_bytes.h"

namespace parley::engine::ct2 {

/// CTranslate2's DataType numbering (as stored in the file).
enum class Ct2Type : std::uint8_t { kF32 = 0, kI8 = 1, kI16 = 2, kI32 = 3, kF16 = 4, kBF16 = 5 };
std::string_view ct2_type_name(Ct2Type t);  ///< "float32", "int8", ...
std::size_t ct2_type_size(Ct2Type t);
/// The engine dtype with the same layout (f32, i8, i32, f16, bf16); nullopt for i16.
std::optional<DType> to_engine_dtype(Ct2Type t);

/// One variable. `data` points into the file's bytes (unaligned in general); valid while the File lives.
struct Variable {
  std::string name;
  Ct2Type type = Ct2Type::kF32;
  std::vector<std::int64_t> shape;
  const std::byte* data = nullptr;
  std::uint64_t nbytes = 0;
  std::uint64_t offset = 0;  ///< of the data in the file

  std::int64_t numel() const;
  std::string shape_string() const;  ///< "[384, 80, 3]"
};

/// An open model.bin (memory-mapped read-only, or bytes held in memory).
///
///   PARLEY_ASSIGN_OR_RETURN(auto file, ct2::File::open(dir + "/model.bin"));
///   const Variable* w = file->find("encoder/conv1/weight");
///   PARLEY_ASSIGN_OR_RETURN(std::vector<float> v, file->to_f32(*w));
///   PARLEY_ASSIGN_OR_RETURN(std::int64_t heads, file->scalar_int("encoder/num_heads"));
///
/// Immutable after open: any number of threads may read it.
class File {
 public:
  /// NotFound when the file does not exist; InvalidArgument/DataLoss for a bad one.
  static Result<std::shared_ptr<const File>> open(const std::string& path);
  /// Validates and takes ownership of a whole file image (tests, fuzzing).
  static Result<std::shared_ptr<const File>> from_bytes(std::string bytes, std::string name = "<memory>");

  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& name() const { return name_; }
  std::uint32_t binary_version() const { return version_; }
  const std::string& spec() const { return spec_; }
  std::uint32_t spec_revision() const { return revision_; }
  const std::vector<Variable>& variables() const { return vars_; }
  const std::map<std::string, std::string, std::less<>>& aliases() const { return aliases_; }
  std::size_t file_bytes() const { return size_; }

  /// By name, following one alias ("decoder/projection/weight" -> "decoder/embeddings/weight").
  const Variable* find(std::string_view name) const;
  /// Values as f32 (from f32, f16, bf16, i8, i16, i32).
  Result<std::vector<float>> to_f32(const Variable& v) const;
  /// The single value of a rank-0 (or 1-element) integer or float variable, as an integer.
  /// NotFound when missing; InvalidArgument when it has several elements.
  Result<std::int64_t> scalar_int(std::string_view name) const;

 private:
  File() = default;
  Status parse();

  std::string name_;
  engine::FileBytes file_;  // the mapped or owned bytes; bytes_/size_ point into it
  const std::byte* bytes_ = nullptr;
  std::size_t size_ = 0;
  std::uint32_t version_ = 0, revision_ = 0;
  std::string spec_;
  std::vector<Variable> vars_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string, std::less<>> aliases_;
};

/// A variable to write (tests): raw little-endian bytes of `shape` elements of `type`.
struct VariableData {
  std::string name;
  Ct2Type type = Ct2Type::kF32;
  std::vector<std::int64_t> shape;
  std::string bytes;
};
/// Helpers for VariableData.
VariableData f32_variable(std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values);
VariableData f16_variable(std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values);
VariableData scalar_variable(std::string name, Ct2Type type, std::int64_t value);

/// A model.bin image (binary version 6). InvalidArgument when a byte count does not match.
Result<std::string> serialize(const std::string& spec, std::uint32_t revision, const std::vector<VariableData>& vars,
                              const std::vector<std::pair<std::string, std::string>>& aliases = {});

}  // namespace parley::engine::ct2
