// FileBytes (see file_bytes.h).
#include "shared/engine/file_bytes.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace parley::engine {

Result<FileBytes> FileBytes::map(const std::string& path, std::string_view what) {
  const std::string prefix = std::string(what) + ": ";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return not_found(prefix + path + ": no such file");
    return unavailable(prefix + "cannot open " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_argument(prefix + path + " is not a regular file");
  }
  FileBytes f;
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size > 0) {
    void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return unavailable(prefix + "mmap of " + path + " failed: " + std::strerror(err));
    }
    f.map_ = m;
    f.map_size_ = size;
  }
  ::close(fd);
  return f;
}

FileBytes FileBytes::own(std::string bytes) {
  FileBytes f;
  f.owned_ = std::move(bytes);
  return f;
}

FileBytes::~FileBytes() { reset(); }

FileBytes::FileBytes(FileBytes&& o) noexcept
    : map_(std::exchange(o.map_, nullptr)), map_size_(std::exchange(o.map_size_, 0)), owned_(std::move(o.owned_)) {}

FileBytes& FileBytes::operator=(FileBytes&& o) noexcept {
  if (this != &o) {
    reset();
    map_ = std::exchange(o.map_, nullptr);
    map_size_ = std::exchange(o.map_size_, 0);
    owned_ = std::move(o.owned_);
  }
  return *this;
}

void FileBytes::reset() {
  if (map_ != nullptr) munmap(map_, map_size_);
  map_ = nullptr;
  map_size_ = 0;
  owned_.clear();
}

}  // namespace parley::engine
