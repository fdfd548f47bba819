// parley.v1.Dialog/Voice on the dialog's transport, for gateways inside the cluster: one
// bidirectional call per voice session (REQUEST: VoiceInput{start}; STREAM_DATA: VoiceInput audio/
// text/interrupt/end; replies: one VoiceEvent each, the bot's audio as type "audio").
// Why a Host::stream method: a voice call lasts minutes; a stream call holds no worker thread (the
// host feeds each message to the call's handler, which hands it to the session's actor), so voice
// calls share the dialog's main endpoint with Turn and the rest. Depends on voice_gateway.h,
// shared/service/host.h.
#pragma once

#include "services/dialog/api/voice_gateway.h"
#include "shared/service/host.h"

namespace parley::dialog {

inline constexpr const char* kVoiceMethod = "parley.v1.Dialog/Voice";

/// Registers kVoiceMethod on `host` (before it starts). `gateway` must outlive the host.
/// `max_buffered`: client messages queued ahead of the session before the call fails
/// RESOURCE_EXHAUSTED.
void register_voice_method(service::Host& host, VoiceGateway& gateway, std::size_t max_buffered = 1024);

}  // namespace parley::dialog
