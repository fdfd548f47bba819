// RedisStore implementation: a lazily filled hiredis connection pool, the CAS Lua script, and the
// mapping of hiredis/Redis failures to Status codes. Depends on redis_store.h, common.h, hiredis.
#include "shared/store/redis_store.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <random>
#include <unordered_set>

#include "shared/common/log.h"
#include "shared/store/common.h"

namespace parley::store {
namespace {

// KEYS[1]: the key. ARGV: value, expected version (-1 any, 0 absent), ttl ms (0 none), token.
// Returns {1, new_version} or {0, current_version}. A retry of a write that already landed (its
// reply was lost with the connection) finds its own token one version ahead: success, not conflict.
constexpr std::string_view kPutScript = R"lua(
local cur = redis.call('HMGET', KEYS[1], 'ver', 'tok')
local ver = 0
if cur[1] then ver = tonumber(cur[1]) end
local expected = tonumber(ARGV[2])
if expected ~= -1 and ver ~= expected then
  if ver == expected + 1 and cur[2] == ARGV[4] then return {1, ver} end
  return {0, ver}
end
ver = ver + 1
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'ver', ver, 'tok', ARGV[4])
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return {1, ver}
)lua";

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string random_token() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string t(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t r = rng();
    for (int i = 0; i < 16; ++i, r >>= 4) t[static_cast<std::size_t>(half * 16 + i)] = kHex[r & 15];
  }
  return t;
}

// SCAN MATCH takes a glob: escape the prefix so only the literal prefix matches.
std::string glob_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

bool parse_int64(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

// An owned copy of a hiredis reply (freed at once, so no reply object outlives its call).
struct RedisStore::Reply {
  int type = REDIS_REPLY_NIL;
  std::string str;
  long long integer = 0;
  std::vector<Reply> elements;

  static Reply from(const redisReply* r) {
    Reply out;
    out.type = r->type;
    out.integer = r->integer;
    if (r->str != nullptr) out.str.assign(r->str, r->len);
    for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(from(r->element[i]));
    return out;
  }
  bool is_error() const { return type == REDIS_REPLY_ERROR; }
};

class RedisStore::Pool {
 public:
  struct Lease {
    redisContext* ctx = nullptr;
    bool fresh = false;  // connected for this call (a failure on it is not a stale connection)
  };

  explicit Pool(const RedisStoreOptions& o) : o_(o) {}
  ~Pool() {
    for (redisContext* c : idle_) redisFree(c);
  }

  std::string where() const {
    return "redis " + o_.host + ":" + std::to_string(o_.port);
  }

  Result<Lease> acquire() {
    std::unique_lock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + o_.command_timeout;
    while (idle_.empty() && open_ >= o_.pool_size) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= o_.pool_size) {
        return deadline_exceeded("all " + std::to_string(o_.pool_size) + " connections to " +
                                 where() + " stayed busy for " +
                                 std::to_string(o_.command_timeout.count()) + " ms");
      }
    }
    if (!idle_.empty()) {
      redisContext* c = idle_.back();
      idle_.pop_back();
      return Lease{c, false};
    }
    if (std::chrono::steady_clock::now() < no_connect_before_) {
      return unavailable(where() + " unreachable: " + last_error_ + " (reconnecting)");
    }
    ++open_;
    lock.unlock();
    auto c = connect();
    if (!c.ok()) {
      lock.lock();
      --open_;
      last_error_ = c.status().message();
      no_connect_before_ = std::chrono::steady_clock::now() + o_.reconnect_backoff;
      cv_.notify_one();
      return unavailable(where() + " unreachable: " + last_error_);
    }
    return Lease{*c, true};
  }

  void release(redisContext* c) {
    std::lock_guard lock(mu_);
    idle_.push_back(c);
    cv_.notify_one();
  }

  // Frees a broken connection; when the connection was lost (not a timeout) the idle ones are
  // most likely dead too (server restart), so they go as well.
  void discard(redisContext* c, bool drop_idle) {
    redisFree(c);
    std::vector<redisContext*> dead;
    {
      std::lock_guard lock(mu_);
      --open_;
      if (drop_idle) {
        dead.swap(idle_);
        open_ -= dead.size();
      }
      cv_.notify_all();
    }
    for (redisContext* d : dead) redisFree(d);
  }

  std::uint64_t connects() const { return connects_.load(); }

  std::string script_sha() {
    std::lock_guard lock(mu_);
    return script_sha_;
  }
  void set_script_sha(std::string sha) {
    std::lock_guard lock(mu_);
    script_sha_ = std::move(sha);
  }

  // Runs one command on `c`. A failure to send/receive (not an error reply) leaves `c` unusable.
  static Result<Reply> exec(redisContext* c, const std::vector<std::string>& argv,
                            const std::string& where) {
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    errno = 0;
    void* raw = redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data());
    const int saved_errno = errno;
    if (raw == nullptr) {
      const std::string err = c->errstr;
      if (c->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK ||
                                     saved_errno == ETIMEDOUT)) {
        return deadline_exceeded(where + " did not answer " + argv[0] + " in time (" + err + ")");
      }
      return unavailable(where + " connection lost during " + argv[0] + ": " +
                         (err.empty() ? std::string("unknown error") : err));
    }
    Reply reply = Reply::from(static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    return reply;
  }

 private:
  Result<redisContext*> connect() {
    redisContext* c = redisConnectWithTimeout(o_.host.c_str(), o_.port, to_timeval(o_.connect_timeout));
    if (c == nullptr) return unavailable("cannot allocate a hiredis context");
    if (c->err != 0) {
      std::string err = c->errstr;
      redisFree(c);
      return unavailable(err);
    }
    if (redisSetTimeout(c, to_timeval(o_.command_timeout)) != REDIS_OK ||
        redisEnableKeepAlive(c) != REDIS_OK) {
      std::string err = c->errstr;
      redisFree(c);
      return unavailable("socket options: " + err);
    }
    auto setup = [&](const std::vector<std::string>& argv) -> Status {
      auto r = exec(c, argv, where());
      if (!r.ok()) return r.status();
      if (r->is_error()) {
        return {argv[0] == "AUTH" ? StatusCode::kUnauthenticated : StatusCode::kFailedPrecondition,
                argv[0] + " failed: " + r->str};
      }
      return Status::ok();
    };
    Status s;
    if (!o_.password.empty()) s = setup({"AUTH", o_.password});
    if (s.is_ok() && o_.db != 0) s = setup({"SELECT", std::to_string(o_.db)});
    if (!s.is_ok()) {
      redisFree(c);
      return s;
    }
    connects_.fetch_add(1);
    return c;
  }

  const RedisStoreOptions& o_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<redisContext*> idle_;
  std::size_t open_ = 0;  // idle + leased
  std::chrono::steady_clock::time_point no_connect_before_{};
  std::string last_error_;
  std::string script_sha_;
  std::atomic<std::uint64_t> connects_{0};
};

RedisStore::RedisStore(RedisStoreOptions options)
    : options_(std::move(options)), pool_(std::make_unique<Pool>(options_)) {
  if (options_.pool_size == 0) options_.pool_size = 1;
}

RedisStore::~RedisStore() = default;

std::string RedisStore::describe() const {
  return "redis://" + options_.host + ":" + std::to_string(options_.port) + "/" +
         std::to_string(options_.db);
}

std::uint64_t RedisStore::connects() const { return pool_->connects(); }

Result<RedisStore::Reply> RedisStore::command(const std::vector<std::string>& argv) {
  for (int attempt = 0;; ++attempt) {
    PARLEY_ASSIGN_OR_RETURN(Pool::Lease lease, pool_->acquire());
    auto r = Pool::exec(lease.ctx, argv, pool_->where());
    if (r.ok()) {
      pool_->release(lease.ctx);
      if (r->is_error()) {
        // Transient server states are UNAVAILABLE (retry later); anything else is a bug or a
        // foreign key under our prefix.
        const std::string& e = r->str;
        if (e.rfind("NOSCRIPT", 0) == 0) return r;  // the caller falls back to EVAL
        for (const char* transient : {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "READONLY"}) {
          if (e.rfind(transient, 0) == 0) return unavailable(pool_->where() + ": " + e);
        }
        return internal_error(pool_->where() + " rejected " + argv[0] + ": " + e);
      }
      return r;
    }
    const bool lost = r.status().code() == StatusCode::kUnavailable;
    pool_->discard(lease.ctx, lost);
    if (lost && !lease.fresh && attempt == 0) {
      PARLEY_LOG_EVERY_MS(kWarn, 1000).kv("error", r.status().message())
          << "redis connection lost; retrying once on a fresh connection";
      continue;
    }
    return r.status();
  }
}

Result<Entry> RedisStore::get(std::string_view key) {
  PARLEY_RETURN_IF_ERROR(detail::check_key(key));
  PARLEY_ASSIGN_OR_RETURN(Reply r,
                          command({"HMGET", options_.key_prefix + std::string(key), "v", "ver"}));
  if (r.type != REDIS_REPLY_ARRAY || r.elements.size() != 2) {
    return internal_error(pool_->where() + ": unexpected HMGET reply for '" + std::string(key) + "'");
  }
  const Reply& v = r.elements[0];
  const Reply& ver = r.elements[1];
  if (v.type == REDIS_REPLY_NIL && ver.type == REDIS_REPLY_NIL) return detail::key_not_found(key);
  std::int64_t version = 0;
  if (v.type != REDIS_REPLY_STRING || ver.type != REDIS_REPLY_STRING ||
      !parse_int64(ver.str, version) || version < 1) {
    return data_loss("session store key '" + options_.key_prefix + std::string(key) +
                     "' is not a session entry (missing or bad 'v'/'ver' fields)");
  }
  return Entry{v.str, version};
}

Result<RedisStore::Reply> RedisStore::put_script(const std::vector<std::string>& args) {
  std::string sha = pool_->script_sha();
  if (sha.empty()) {
    PARLEY_ASSIGN_OR_RETURN(Reply loaded, command({"SCRIPT", "LOAD", std::string(kPutScript)}));
    if (loaded.type != REDIS_REPLY_STRING) return internal_error("SCRIPT LOAD returned no sha");
    sha = loaded.str;
    pool_->set_script_sha(sha);
  }
  std::vector<std::string> argv{"EVALSHA", sha, "1"};
  argv.insert(argv.end(), args.begin(), args.end());
  PARLEY_ASSIGN_OR_RETURN(Reply r, command(argv));
  if (r.is_error()) {  // NOSCRIPT: the server restarted and lost its script cache
    argv[0] = "EVAL";
    argv[1] = std::string(kPutScript);
    PARLEY_ASSIGN_OR_RETURN(r, command(argv));
    if (r.is_error()) return internal_error(pool_->where() + " rejected EVAL: " + r.str);
  }
  return r;
}

Result<Version> RedisStore::put(std::string_view key, std::string_view value,
                                Version expected_version, std::chrono::milliseconds ttl) {
  PARLEY_RETURN_IF_ERROR(detail::check_put_args(key, expected_version, ttl));
  if (options_.max_value_bytes > 0 && value.size() > options_.max_value_bytes) {
    return resource_exhausted("value for key '" + std::string(key) + "' is " +
                              std::to_string(value.size()) + " bytes, over the store's limit of " +
                              std::to_string(options_.max_value_bytes));
  }
  PARLEY_ASSIGN_OR_RETURN(
      Reply r, put_script({options_.key_prefix + std::string(key), std::string(value),
                           std::to_string(expected_version), std::to_string(ttl.count()),
                           random_token()}));
  if (r.type != REDIS_REPLY_ARRAY || r.elements.size() != 2 ||
      r.elements[0].type != REDIS_REPLY_INTEGER || r.elements[1].type != REDIS_REPLY_INTEGER) {
    return internal_error(pool_->where() + ": unexpected reply from the put script");
  }
  if (r.elements[0].integer == 0) {
    return detail::version_conflict(key, expected_version, r.elements[1].integer);
  }
  return static_cast<Version>(r.elements[1].integer);
}

Result<bool> RedisStore::remove(std::string_view key) {
  PARLEY_RETURN_IF_ERROR(detail::check_key(key));
  PARLEY_ASSIGN_OR_RETURN(Reply r, command({"DEL", options_.key_prefix + std::string(key)}));
  if (r.type != REDIS_REPLY_INTEGER) return internal_error(pool_->where() + ": unexpected DEL reply");
  return r.integer > 0;
}

Result<std::vector<std::string>> RedisStore::scan(std::size_t limit) {
  std::unordered_set<std::string> seen;  // SCAN may return a key twice
  std::vector<std::string> keys;
  const std::string pattern = glob_escape(options_.key_prefix) + "*";
  std::string cursor = "0";
  do {
    PARLEY_ASSIGN_OR_RETURN(Reply r, command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}));
    if (r.type != REDIS_REPLY_ARRAY || r.elements.size() != 2 ||
        r.elements[1].type != REDIS_REPLY_ARRAY) {
      return internal_error(pool_->where() + ": unexpected SCAN reply");
    }
    cursor = r.elements[0].str;
    for (const Reply& k : r.elements[1].elements) {
      if (keys.size() >= limit) return keys;
      std::string key = k.str.substr(options_.key_prefix.size());
      if (seen.insert(key).second) keys.push_back(std::move(key));
    }
  } while (cursor != "0");
  return keys;
}

Result<std::size_t> RedisStore::count() {
  PARLEY_ASSIGN_OR_RETURN(auto keys, scan(static_cast<std::size_t>(-1)));
  return keys.size();
}

Result<std::vector<std::string>> RedisStore::list(std::size_t limit) { return scan(limit); }

Status RedisStore::health() {
  PARLEY_ASSIGN_OR_RETURN(Reply r, command({"PING"}));
  if (r.type != REDIS_REPLY_STATUS || r.str != "PONG") {
    return internal_error(pool_->where() + ": unexpected PING reply '" + r.str + "'");
  }
  return Status::ok();
}

}  // namespace parley::store
