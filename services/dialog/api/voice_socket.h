// GET /v1/sessions/{id}/voice: the WebSocket of a live voice session on the public API. Binary
// frames are PCM16 mono audio in (whole samples), text frames are JSON control messages; the
// server sends VoiceEvent JSON text frames and binary frames of the bot's PCM16 audio.
// Depends on voice_gateway.h, shared/http/websocket.h.
#pragma once

#include "services/dialog/api/voice_gateway.h"
#include "shared/http/message.h"
#include "shared/http/websocket.h"

namespace parley::dialog {

/// The upgrade decision for an admitted request (auth and rate limit are the caller's): the
/// query (sample_rate, output_sample_rate, language, voice, text_only) is checked (400), the
/// session must exist (404), the replica must have room (503); then the connection is accepted
/// and bound to a new voice session. Bad frames on the open connection: an `error` event, then
/// close 1007 (audio that is not whole PCM16 samples), 1003 (a text frame that is not JSON), 1009
/// (a frame over voice.max_frame_bytes); a client that does not read: 1008.
http::WebSocketDecision voice_upgrade(const http::Request& request, VoiceGateway& gateway);

/// JSON of an event as sent on the WebSocket (proto3 JSON, lowerCamelCase, defaults omitted).
std::string voice_event_json(const v1::VoiceEvent& event);

}  // namespace parley::dialog
