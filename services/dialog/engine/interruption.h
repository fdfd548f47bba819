// What an interrupted reply leaves behind: the bot's messages cut to the text that was actually
// played before the user spoke over it (voice barge-in) or the client stopped it, so the history
// (and the LM's view of the conversation) holds what the user heard, not what was generated.
// Depends on dialog.proto.
#pragma once

#include <google/protobuf/repeated_ptr_field.h>

#include <string>
#include <string_view>
#include <vector>

#include "parley/v1/dialog.pb.h"

namespace parley::dialog {

/// `messages` cut to `played`: the played text is matched against the messages spoken in order
/// (whitespace-normalised, joined by one space, which is how a voice session speaks them); whole
/// messages while it covers them, the message it ends in cut at the last whole word it covers,
/// none after. Played text beyond the last message (an LM reply that was still streaming when it
/// was stopped) becomes one more message of kind `pending_kind` (dropped when that is empty).
std::vector<v1::BotMessage> cut_to_played(const google::protobuf::RepeatedPtrField<v1::BotMessage>& messages,
                                          std::string_view played, const std::string& pending_kind);

/// Collapses runs of whitespace into one space and trims both ends.
std::string normalize_spaces(std::string_view text);

}  // namespace parley::dialog
