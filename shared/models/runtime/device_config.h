// The `<svc>.device` configuration key every engine service declares (auto | cpu | cuda | cuda:N)
// and its resolution to a device at start-up (logged).
// Why: lm.device, nlu.device, qa.device (and asr.device, tts.device next) must parse, validate,
// document and resolve the same way. Depends on shared/config (schema), shared/engine/device.h.
#pragma once

#include <string>

#include "shared/common/status.h"
#include "shared/config/config.h"
#include "shared/config/schema.h"
#include "shared/engine/device.h"

namespace parley::models {

/// Declares `key` (default "auto") with a validator that accepts what
/// engine::parse_device_setting accepts, so a typo stops the process at start-up with the
/// accepted forms in the message.
void add_device_key(config::Schema& schema, const std::string& key);

/// The device `key` resolves to on this machine (engine::resolve_device_setting: auto takes
/// cuda:0 when a GPU is present, else the CPU; the choice is logged). UNAVAILABLE for a GPU that
/// is not there.
Result<engine::Device> resolve_device_key(const config::Config& config, const std::string& key);

}  // namespace parley::models
