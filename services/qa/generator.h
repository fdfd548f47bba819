// Generative answering: the prompt that asks the LM to answer from numbered passages only and
// cite them, and TextGenerator, the seam between QA and the LM service (LmClientGenerator calls
// parley.v1.Lm/Generate over the transport; tests inject a fake). Depends on transport, proto.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "parley/v1/lm.pb.h"
#include "shared/common/status.h"

namespace parley::transport {
class Client;
struct CurveClientOptions;
}

namespace parley::qa {

/// A retrieved passage as the prompt shows it.
struct PromptPassage {
  std::string title;
  std::string text;
};

/// System + user messages: passages numbered [1]..[n], the question, the rules (answer only from
/// the passages, cite as [n], say exactly "I don't know." otherwise).
v1::ChatMessages build_generative_prompt(const std::string& question, const std::vector<PromptPassage>& passages);

/// True when the LM's text says it cannot answer ("I don't know", "not in the passages", ...).
bool is_refusal(const std::string& text);

/// Writes an answer from chat messages. Threading: generate() may be called from several
/// threads at once; it blocks until the text is complete, an error, or `deadline`.
class TextGenerator {
 public:
  virtual ~TextGenerator() = default;
  virtual Result<std::string> generate(const v1::ChatMessages& messages, const v1::SamplingParams& params,
                                       std::chrono::steady_clock::time_point deadline) = 0;
};

/// Calls parley.v1.Lm/Generate (a server stream of text deltas) and concatenates the deltas.
class LmClientGenerator final : public TextGenerator {
 public:
  /// `target`: "tcp://127.0.0.1:7104" (or dns://...); `curve`: the CURVE client settings
  /// (transport.curve_server_key + client keys), null = plaintext. Fails only on a malformed target
  /// or bad keys.
  static Result<std::unique_ptr<LmClientGenerator>> create(const std::string& target,
                                                           const transport::CurveClientOptions* curve = nullptr);
  ~LmClientGenerator() override;
  Result<std::string> generate(const v1::ChatMessages& messages, const v1::SamplingParams& params,
                               std::chrono::steady_clock::time_point deadline) override;

 private:
  explicit LmClientGenerator(std::unique_ptr<transport::Client> client);
  std::unique_ptr<transport::Client> client_;
};

}  // namespace parley::qa
