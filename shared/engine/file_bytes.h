// FileBytes: the whole of a model file as read-only bytes — memory-mapped from a path, or held
// in memory (tests, fuzzing) — released by RAII.
// Why: the model readers (CTranslate2, safetensors) each opened, checked and mapped their file
// the same way; one copy keeps the checks and the error messages the same everywhere.
// Depends on shared/common/status.h, POSIX mmap.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "shared/common/status.h"

namespace parley::engine {

/// Move-only. data() stays valid while the object lives (and across moves of a mapped file).
class FileBytes {
 public:
  FileBytes() = default;
  /// Maps `path` read-only. Errors are prefixed with `what` ("ctranslate2: ..."): NotFound when
  /// the file does not exist, InvalidArgument when it is not a regular file, Unavailable when it
  /// cannot be opened or mapped. An empty file maps to size() 0.
  static Result<FileBytes> map(const std::string& path, std::string_view what);
  /// Takes ownership of bytes already in memory.
  static FileBytes own(std::string bytes);

  ~FileBytes();
  FileBytes(FileBytes&& o) noexcept;
  FileBytes& operator=(FileBytes&& o) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;

  const std::byte* data() const {
    return map_ != nullptr ? static_cast<const std::byte*>(map_) : reinterpret_cast<const std::byte*>(owned_.data());
  }
  std::size_t size() const { return map_ != nullptr ? map_size_ : owned_.size(); }

 private:
  void reset();
  void* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::string owned_;
};

}  // namespace parley::engine
