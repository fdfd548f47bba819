// The `<svc>.device` key (see device_config.h).
// Depends on device_config.h.
#include "shared/models/runtime/device_config.h"

#include <optional>

namespace parley::models {

void add_device_key(config::Schema& schema, const std::string& key) {
  config::Validator v{[](const config::Value& value) -> std::optional<std::string> {
                        const auto* s = std::get_if<std::string>(&value);
                        if (s == nullptr) return std::string("must be a string");
                        auto parsed = engine::parse_device_setting(*s);
                        if (!parsed.ok()) return parsed.status().message();
                        return std::nullopt;
                      },
                      "auto|cpu|cuda|cuda:N"};
  schema.add_string(key, "auto",
                    "Where the model runs: auto (the first GPU when there is one, else the CPU), cpu, cuda, cuda:N",
                    std::move(v));
}

Result<engine::Device> resolve_device_key(const config::Config& config, const std::string& key) {
  return engine::resolve_device_setting(config.get_string(key), key);
}

}  // namespace parley::models
