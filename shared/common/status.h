// Status and Result<T>: how every Parley API reports an expected failure.
// Exists so that bad input, network trouble and missing files travel as values with a message a
// user can act on; exceptions stay for bugs and start-up misconfiguration. Depends on nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace parley {

/// gRPC-style codes; numerically identical to parley.v1.Status.Code on the wire.
enum class StatusCode : std::uint8_t {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

/// "OK", "INVALID_ARGUMENT", ... (the names Prometheus labels and JSON errors use).
std::string_view status_code_name(StatusCode code);
/// Maps a wire integer to a code; unknown values become kUnknown.
StatusCode status_code_from_int(int value);

/// A code and a message. Cheap to copy when OK.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "INVALID_ARGUMENT: body is not JSON"
  std::string to_string() const;

  /// Returns a copy with "context: " prefixed to the message (no-op when OK).
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status deadline_exceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status failed_precondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status permission_denied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }

/// A value or a non-OK Status.
///
///   Result<Config> r = load_config(path);
///   if (!r.ok()) return r.status();
///   use(*r);
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).is_ok()) {
      v_ = Status(StatusCode::kInternal, "Result constructed from an OK status without a value");
    }
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T value_or(T fallback) const { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace parley

#define PARLEY_CONCAT_INNER_(a, b) a##b
#define PARLEY_CONCAT_(a, b) PARLEY_CONCAT_INNER_(a, b)

/// Returns the Status from the enclosing function when `expr` is not OK.
#define PARLEY_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::parley::Status parley_status_ = (expr);        \
    if (!parley_status_.is_ok()) return parley_status_; \
  } while (false)

/// `PARLEY_ASSIGN_OR_RETURN(auto x, make_x());` unwraps a Result or returns its Status.
#define PARLEY_ASSIGN_OR_RETURN(lhs, expr)                                  \
  auto PARLEY_CONCAT_(parley_result_, __LINE__) = (expr);                   \
  if (!PARLEY_CONCAT_(parley_result_, __LINE__).ok())                       \
    return PARLEY_CONCAT_(parley_result_, __LINE__).status();               \
  lhs = std::move(PARLEY_CONCAT_(parley_result_, __LINE__)).value()
