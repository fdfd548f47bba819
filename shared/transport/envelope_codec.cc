// Protobuf wire format for the transport's own Envelope fields (see envelope_codec.h): varints,
// length-delimited strings, the LoadReport submessage. Depends on envelope_codec.h, libzmq.
#include "shared/transport/envelope_codec.h"

#include <climits>
#include <cstring>

namespace parley::transport::detail {
namespace {

// Field numbers of parley.v1.Envelope and parley.v1.LoadReport (proto/parley/v1/*.proto).
constexpr std::uint32_t kId = 1, kCorrelationId = 2, kSessionId = 3, kMethod = 4, kDeadlineRemainingUs = 5, kSequence = 6,
                        kEndOfStream = 7, kTraceId = 9, kKind = 11, kIdempotent = 12, kLoad = 13, kReplica = 16,
                        kPayload = 10, kBatch = 17, kStatus = 8, kTimings = 15;
constexpr std::uint32_t kStatusCode = 1, kTimingDurationUs = 2;  // parley.v1.Status, StageTiming
constexpr std::uint32_t kAnyTypeUrl = 1, kAnyValue = 2;  // google.protobuf.Any
constexpr std::uint32_t kLoadInFlight = 1, kLoadQueueDepth = 2, kLoadCapacity = 3, kLoadDraining = 4,
                        kLoadAcceptsBatches = 5;
constexpr std::uint32_t kVarint = 0, kLengthDelimited = 2;

std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

std::uint8_t* put_varint(std::uint8_t* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}

constexpr std::uint64_t tag(std::uint32_t field, std::uint32_t wire_type) { return (field << 3) | wire_type; }

// int32/int64/enum fields are varints of the value sign-extended to 64 bits (negative: 10 bytes).
std::uint64_t as_varint(std::int64_t v) { return static_cast<std::uint64_t>(v); }

std::size_t varint_field_size(std::uint32_t field, std::uint64_t v) {
  return v == 0 ? 0 : varint_size(tag(field, kVarint)) + varint_size(v);
}
std::uint8_t* put_varint_field(std::uint8_t* p, std::uint32_t field, std::uint64_t v) {
  if (v == 0) return p;
  p = put_varint(p, tag(field, kVarint));
  return put_varint(p, v);
}

std::size_t string_field_size(std::uint32_t field, std::string_view s) {
  return s.empty() ? 0 : varint_size(tag(field, kLengthDelimited)) + varint_size(s.size()) + s.size();
}
std::uint8_t* put_string_field(std::uint8_t* p, std::uint32_t field, std::string_view s) {
  if (s.empty()) return p;
  p = put_varint(p, tag(field, kLengthDelimited));
  p = put_varint(p, s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

std::size_t load_body_size(const Load& l) {
  return varint_field_size(kLoadInFlight, as_varint(l.in_flight)) +
         varint_field_size(kLoadQueueDepth, as_varint(l.queue_depth)) +
         varint_field_size(kLoadCapacity, as_varint(l.capacity)) + varint_field_size(kLoadDraining, l.draining ? 1 : 0) +
         varint_field_size(kLoadAcceptsBatches, l.accepts_batches ? 1 : 0);
}

}  // namespace

std::size_t TransportFields::size() const {
  std::size_t n = string_field_size(kId, id) + string_field_size(kCorrelationId, correlation_id) +
                  string_field_size(kSessionId, session_id) +
                  varint_field_size(kDeadlineRemainingUs, as_varint(deadline_remaining_us)) +
                  varint_field_size(kSequence, sequence) + varint_field_size(kEndOfStream, end_of_stream ? 1 : 0) +
                  string_field_size(kTraceId, trace_id) + varint_field_size(kKind, as_varint(kind)) +
                  varint_field_size(kIdempotent, idempotent ? 1 : 0) + string_field_size(kReplica, replica);
  if (load != nullptr) {
    const std::size_t body = load_body_size(*load);
    n += varint_size(tag(kLoad, kLengthDelimited)) + varint_size(body) + body;
  }
  return n;
}

std::uint8_t* TransportFields::write(std::uint8_t* p) const {
  p = put_string_field(p, kId, id);
  p = put_string_field(p, kCorrelationId, correlation_id);
  p = put_string_field(p, kSessionId, session_id);
  p = put_varint_field(p, kDeadlineRemainingUs, as_varint(deadline_remaining_us));
  p = put_varint_field(p, kSequence, sequence);
  p = put_varint_field(p, kEndOfStream, end_of_stream ? 1 : 0);
  p = put_string_field(p, kTraceId, trace_id);
  p = put_varint_field(p, kKind, as_varint(kind));
  p = put_varint_field(p, kIdempotent, idempotent ? 1 : 0);
  if (load != nullptr) {
    p = put_varint(p, tag(kLoad, kLengthDelimited));
    p = put_varint(p, load_body_size(*load));
    p = put_varint_field(p, kLoadInFlight, as_varint(load->in_flight));
    p = put_varint_field(p, kLoadQueueDepth, as_varint(load->queue_depth));
    p = put_varint_field(p, kLoadCapacity, as_varint(load->capacity));
    p = put_varint_field(p, kLoadDraining, load->draining ? 1 : 0);
    p = put_varint_field(p, kLoadAcceptsBatches, load->accepts_batches ? 1 : 0);
  }
  p = put_string_field(p, kReplica, replica);
  return p;
}

Message encode_envelope(std::string_view body, const TransportFields& fields) {
  Message out;
  zmq_msg_close(out.get());
  zmq_msg_init_size(out.get(), body.size() + fields.size());
  auto* p = static_cast<std::uint8_t*>(zmq_msg_data(out.get()));
  if (!body.empty()) std::memcpy(p, body.data(), body.size());
  fields.write(p + body.size());
  return out;
}

std::size_t PayloadRef::size() const {
  if (size_ != 0) return size_;  // never 0 once computed: the field's tag and length take 2 bytes
  value_size_ = message != nullptr ? message->ByteSizeLong() : value.size();
  const std::size_t any = string_field_size(kAnyTypeUrl, type_url) +
                          (value_size_ == 0 ? 0 : varint_size(tag(kAnyValue, kLengthDelimited)) + varint_size(value_size_) + value_size_);
  size_ = varint_size(tag(kPayload, kLengthDelimited)) + varint_size(any) + any;
  return size_;
}

std::uint8_t* PayloadRef::write(std::uint8_t* p) const {
  const std::size_t any = string_field_size(kAnyTypeUrl, type_url) +
                          (value_size_ == 0 ? 0 : varint_size(tag(kAnyValue, kLengthDelimited)) + varint_size(value_size_) + value_size_);
  p = put_varint(p, tag(kPayload, kLengthDelimited));
  p = put_varint(p, any);
  p = put_string_field(p, kAnyTypeUrl, type_url);
  if (value_size_ == 0) return p;
  p = put_varint(p, tag(kAnyValue, kLengthDelimited));
  p = put_varint(p, value_size_);
  if (message != nullptr) return message->SerializeWithCachedSizesToArray(p);
  std::memcpy(p, value.data(), value_size_);
  return p + value_size_;
}

Message encode_payload(const PayloadRef& payload, const TransportFields& fields) {
  Message out;
  const std::size_t payload_size = payload.size();
  zmq_msg_close(out.get());
  zmq_msg_init_size(out.get(), payload_size + fields.size());
  auto* p = static_cast<std::uint8_t*>(zmq_msg_data(out.get()));
  fields.write(payload.write(p));
  return out;
}

Message encode_envelope(const Envelope& body, const TransportFields& fields) {
  Message out;
  const std::size_t body_size = body.ByteSizeLong();
  zmq_msg_close(out.get());
  zmq_msg_init_size(out.get(), body_size + fields.size());
  auto* p = static_cast<std::uint8_t*>(zmq_msg_data(out.get()));
  p = body.SerializeWithCachedSizesToArray(p);
  fields.write(p);
  return out;
}

namespace {

[[gnu::always_inline]] inline bool get_varint(const std::uint8_t*& p, const std::uint8_t* end, std::uint64_t* v) {
  if (p < end && *p < 0x80) {  // tags, kinds, flags and short lengths: one byte
    *v = *p++;
    return true;
  }
  std::uint64_t out = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const std::uint8_t b = *p++;
    out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) {
      *v = out;
      return true;
    }
  }
  return false;
}

/// One top-level field of a serialized message.
struct WireField {
  std::uint64_t number = 0;
  std::uint64_t wire_type = 0;
  std::uint64_t varint = 0;        // wire type 0
  const std::uint8_t* bytes = nullptr;  // wire type 2
  std::size_t size = 0;
};

enum class Walk { kField, kEnd, kMalformed };

/// Reads the field at `p` and moves past it, without parsing or allocating.
[[gnu::always_inline]] inline Walk next_field(const std::uint8_t*& p, const std::uint8_t* end, WireField* f) {
  if (p >= end) return Walk::kEnd;
  std::uint64_t key = 0;
  if (!get_varint(p, end, &key)) return Walk::kMalformed;
  f->number = key >> 3;
  f->wire_type = key & 7;
  switch (f->wire_type) {
    case 0:
      return get_varint(p, end, &f->varint) ? Walk::kField : Walk::kMalformed;
    case 1:
      if (end - p < 8) return Walk::kMalformed;
      p += 8;
      return Walk::kField;
    case 2: {
      std::uint64_t n = 0;
      if (!get_varint(p, end, &n) || n > static_cast<std::uint64_t>(end - p)) return Walk::kMalformed;
      f->bytes = p;
      f->size = static_cast<std::size_t>(n);
      p += n;
      return Walk::kField;
    }
    case 5:
      if (end - p < 4) return Walk::kMalformed;
      p += 4;
      return Walk::kField;
    default:  // groups (3, 4) are not in Envelope; 6, 7 do not exist
      return Walk::kMalformed;
  }
}

}  // namespace

std::optional<int> peek_kind(const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  const std::uint8_t* end = p + size;
  int kind = 0;
  WireField f;
  for (Walk w; (w = next_field(p, end, &f)) != Walk::kEnd;) {
    if (w == Walk::kMalformed) return std::nullopt;
    if (f.number == kKind && f.wire_type == kVarint) kind = static_cast<int>(static_cast<std::int32_t>(f.varint));
  }
  return kind;
}

bool read_reply_fields(const void* data, std::size_t size, ReplyFields* out) {
  *out = ReplyFields();
  const auto* p = static_cast<const std::uint8_t*>(data);
  const std::uint8_t* end = p + size;
  WireField f;
  auto view = [](const WireField& w) { return std::string_view(reinterpret_cast<const char*>(w.bytes), w.size); };
  // An embedded message's fields, walked the same way (well-formed or false).
  auto walk = [](const WireField& outer, auto&& on_field) {
    const std::uint8_t* q = outer.bytes;
    const std::uint8_t* qend = q + outer.size;
    WireField g;
    for (Walk w; (w = next_field(q, qend, &g)) != Walk::kEnd;) {
      if (w == Walk::kMalformed) return false;
      on_field(g);
    }
    return true;
  };
  for (Walk w; (w = next_field(p, end, &f)) != Walk::kEnd;) {
    if (w == Walk::kMalformed) return false;
    const bool len = f.wire_type == kLengthDelimited;
    const bool var = f.wire_type == kVarint;
    switch (f.number) {
      case kKind:
        if (var) out->kind = static_cast<int>(static_cast<std::int32_t>(f.varint));
        break;
      case kCorrelationId:
        if (len) out->correlation_id = view(f);
        break;
      case kReplica:
        if (len) out->replica = view(f);
        break;
      case kEndOfStream:
        if (var) out->end_of_stream = f.varint != 0;
        break;
      case kSequence:
        if (var) out->sequence = f.varint;
        break;
      case kStatus:
        if (len && !walk(f, [&](const WireField& g) {
              if (g.number == kStatusCode && g.wire_type == kVarint) out->status_code = static_cast<int>(static_cast<std::int32_t>(g.varint));
            })) {
          return false;
        }
        break;
      case kLoad:
        if (!len) break;
        out->has_load = true;
        if (!walk(f, [&](const WireField& g) {
              if (g.wire_type != kVarint) return;
              const auto v = static_cast<std::int32_t>(g.varint);
              if (g.number == kLoadInFlight) out->load.in_flight = v;
              if (g.number == kLoadQueueDepth) out->load.queue_depth = v;
              if (g.number == kLoadCapacity) out->load.capacity = v;
              if (g.number == kLoadDraining) out->load.draining = g.varint != 0;
              if (g.number == kLoadAcceptsBatches) out->load.accepts_batches = g.varint != 0;
            })) {
          return false;
        }
        break;
      case kPayload:
        if (!len) break;
        out->has_payload = true;
        if (!walk(f, [&](const WireField& g) {
              if (g.wire_type != kLengthDelimited) return;
              if (g.number == kAnyTypeUrl) out->type_url = view(g);
              if (g.number == kAnyValue) out->value = view(g);
            })) {
          return false;
        }
        break;
      case kTimings:
        if (len && !walk(f, [&](const WireField& g) {
              if (g.number == kTimingDurationUs && g.wire_type == kVarint) {
                out->service_time_us += static_cast<std::int64_t>(g.varint);
              }
            })) {
          return false;
        }
        break;
      default:
        break;
    }
  }
  return true;
}

namespace {

/// True when every byte is below 0x80 (then the bytes are valid UTF-8, as a parser checks for
/// proto3 strings), eight at a time.
bool is_ascii(const WireField& f) {
  const std::uint8_t* p = f.bytes;
  std::size_t n = f.size;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if ((w & 0x8080808080808080ull) != 0) return false;
  }
  for (; n > 0; --n, ++p) {
    if (*p >= 0x80) return false;
  }
  return true;
}

/// True when the field read from `start` (a field number below 2048) has its key, and its length
/// when it has one, in the fewest bytes: what encoders write; parsers differ on how much longer
/// encodings they accept.
[[gnu::always_inline]] inline bool minimally_encoded(const std::uint8_t* start, const WireField& f) {
  const std::size_t key_size = f.number < 16 ? 1 : 2;
  if (start[key_size - 1] >= 0x80) return false;  // the key's varint went on past its fewest bytes
  if (f.wire_type != kLengthDelimited) return true;
  return f.bytes == start + key_size + (f.size < 0x80 ? 1 : varint_size(f.size));
}

}  // namespace

bool read_request_fields(const void* data, std::size_t size, RequestFields* out) {
  *out = RequestFields();
  const auto* p = static_cast<const std::uint8_t*>(data);
  const std::uint8_t* end = p + size;
  auto view = [](const WireField& w) { return std::string_view(reinterpret_cast<const char*>(w.bytes), w.size); };
  // The payload's fields (an Any): true when it holds only a type URL (ASCII) and a value.
  auto read_any = [&](const WireField& outer) {
    const std::uint8_t* q = outer.bytes;
    const std::uint8_t* qend = q + outer.size;
    WireField g;
    for (;;) {
      const std::uint8_t* start = q;
      const Walk w = next_field(q, qend, &g);
      if (w == Walk::kEnd) return true;
      if (w == Walk::kMalformed || g.wire_type != kLengthDelimited || (g.number != kAnyTypeUrl && g.number != kAnyValue) ||
          !minimally_encoded(start, g)) {
        return false;
      }
      if (g.number == kAnyTypeUrl && is_ascii(g)) {
        out->type_url = view(g);
      } else if (g.number == kAnyValue) {
        out->value = view(g);
      } else {
        return false;
      }
    }
  };
  bool simple = true;
  WireField f;
  for (;;) {
    const std::uint8_t* start = p;
    const Walk w = next_field(p, end, &f);
    if (w == Walk::kEnd) break;
    if (w == Walk::kMalformed) return false;
    const bool var = f.wire_type == kVarint;
    if (f.number == kKind && var) out->kind = static_cast<int>(static_cast<std::int32_t>(f.varint));
    if (!simple) continue;  // only the kind matters now; walk on to check the rest is wire format
    if (f.number == 0 || f.number > kBatch || !minimally_encoded(start, f)) {
      simple = false;
      continue;
    }
    const bool len = f.wire_type == kLengthDelimited;
    switch (f.number) {
      case kId:
      case kCorrelationId:
      case kSessionId:
      case kTraceId: {
        if (!len) {
          simple = false;
          break;
        }
        std::string_view* to = f.number == kId              ? &out->id
                               : f.number == kCorrelationId ? &out->correlation_id
                               : f.number == kSessionId     ? &out->session_id
                                                            : &out->trace_id;
        *to = view(f);
        break;
      }
      case kMethod:
        if (len && is_ascii(f)) {
          out->method = view(f);
        } else {
          simple = false;
        }
        break;
      case kDeadlineRemainingUs:
      case kSequence:
      case kEndOfStream:
      case kKind:
      case kIdempotent:
        if (!var) {
          simple = false;
        } else if (f.number == kDeadlineRemainingUs) {
          out->deadline_remaining_us = static_cast<std::int64_t>(f.varint);
        } else if (f.number == kSequence) {
          out->sequence = f.varint;
        } else if (f.number == kEndOfStream) {
          out->end_of_stream = f.varint != 0;
        } else if (f.number == kIdempotent) {
          out->idempotent = f.varint != 0;
        }
        break;
      case kPayload:
        simple = len && read_any(f);
        break;
      case kReplica:
      case kBatch:
        simple = len;  // bytes the server does not read on a REQUEST
        break;
      default:  // status, load, metadata, timings: strings and messages a parser checks itself
        simple = false;
        break;
    }
  }
  out->simple = simple;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Batches

void BatchWriter::start_entry(std::size_t size) {
  if (count_ == 0) {  // the BATCH envelope's own field first: kind = BATCH
    std::uint8_t head[4];
    std::uint8_t* e = put_varint_field(head, kKind, v1::BATCH);
    buf_.append(reinterpret_cast<const char*>(head), static_cast<std::size_t>(e - head));
  }
  std::uint8_t prefix[16];
  std::uint8_t* e = put_varint(prefix, tag(kBatch, kLengthDelimited));
  e = put_varint(e, size);
  buf_.append(reinterpret_cast<const char*>(prefix), static_cast<std::size_t>(e - prefix));
  last_entry_ = buf_.size();
  ++count_;
}

void BatchWriter::add(std::string_view body, const TransportFields& fields) {
  const std::size_t n = fields.size();
  start_entry(body.size() + n);
  buf_.append(body);
  const std::size_t at = buf_.size();
  buf_.resize(at + n);
  fields.write(reinterpret_cast<std::uint8_t*>(buf_.data() + at));
}

void BatchWriter::add(const void* envelope, std::size_t size) {
  start_entry(size);
  buf_.append(static_cast<const char*>(envelope), size);
}

void BatchWriter::add(const PayloadRef& payload, const TransportFields& fields) {
  const std::size_t payload_size = payload.size();
  const std::size_t n = payload_size + fields.size();
  start_entry(n);
  const std::size_t at = buf_.size();
  buf_.resize(at + n);
  fields.write(payload.write(reinterpret_cast<std::uint8_t*>(buf_.data() + at)));
}

Message BatchWriter::finish() {
  // One entry goes out as the plain envelope it holds: a batch of one would only cost bytes.
  std::string_view bytes = count_ == 1 ? std::string_view(buf_).substr(last_entry_) : std::string_view(buf_);
  Message out;
  zmq_msg_close(out.get());
  zmq_msg_init_size(out.get(), bytes.size());
  if (!bytes.empty()) std::memcpy(zmq_msg_data(out.get()), bytes.data(), bytes.size());
  clear();
  return out;
}

void BatchWriter::clear() {
  buf_.clear();  // keeps the capacity: the next batch allocates nothing
  if (buf_.capacity() > kMaxBytes * 4) std::string().swap(buf_);
  count_ = 0;
  last_entry_ = 0;
}

bool BatchReader::open(const void* data, std::size_t size) {
  p_ = static_cast<const std::uint8_t*>(data);
  end_ = p_ + size;
  count_ = 0;
  // Walk it all first: a malformed batch is refused whole, nothing of it delivered.
  const std::uint8_t* p = p_;
  WireField f;
  for (Walk w; (w = next_field(p, end_, &f)) != Walk::kEnd;) {
    if (w == Walk::kMalformed) return false;
    if (f.number == kBatch && f.wire_type == kLengthDelimited) ++count_;
  }
  return true;
}

bool BatchReader::next(std::string_view* entry) {
  WireField f;
  while (next_field(p_, end_, &f) == Walk::kField) {  // well formed: open() walked it
    if (f.number == kBatch && f.wire_type == kLengthDelimited) {
      *entry = std::string_view(reinterpret_cast<const char*>(f.bytes), f.size);
      return true;
    }
  }
  return false;
}

bool parse_envelope(Envelope& envelope, const void* data, std::size_t size) {
  try {
    return size <= static_cast<std::size_t>(INT32_MAX) && envelope.ParseFromArray(data, static_cast<int>(size));
  } catch (...) {  // protobuf does not throw on bad input; this only guards allocation failure
    return false;
  }
}

void clear_transport_fields(Envelope& e, bool keep_id) {
  if (!keep_id) e.clear_id();
  e.clear_correlation_id();
  e.clear_deadline_remaining_us();
  e.clear_sequence();
  e.clear_end_of_stream();
  e.clear_kind();
  e.clear_idempotent();
  e.clear_load();
  e.clear_replica();
  e.clear_batch();
}

bool has_transport_fields(const Envelope& e, bool keep_id) {
  return (!keep_id && !e.id().empty()) || !e.correlation_id().empty() || e.deadline_remaining_us() != 0 ||
         e.sequence() != 0 || e.end_of_stream() || e.kind() != 0 || e.idempotent() || e.has_load() ||
         !e.replica().empty() || e.batch_size() != 0;
}

}  // namespace parley::transport::detail
