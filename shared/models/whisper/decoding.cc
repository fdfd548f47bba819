// Greedy Whisper decoding with CTranslate2's logit processors (see decoding.h). The order of the
// rules follows CTranslate2 4.x (src/decoding.cc, src/models/whisper.cc): no-speech probability
// from the raw logits after <|startoftranscript|>, then suppress_tokens, then the begin
// suppression, then the timestamp rules (which look at probabilities after the earlier masks).
// Depends on decoding.h.
#include "shared/models/whisper/decoding.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace parley::whisper {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// log(sum(exp(x))) over a range.
double logsumexp(const float* x, int n) {
  float mx = kNegInf;
  for (int i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  if (mx == kNegInf) return kNegInf;
  float s = 0.0f;  // float exp: the loop vectorizes; the sum's error is far below the rules' margins
  for (int i = 0; i < n; ++i) s += std::exp(x[i] - mx);
  return static_cast<double>(mx) + std::log(static_cast<double>(s));
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::vector<int> make_prompt(const WhisperModel& model, bool timestamps, int language) {
  const SpecialIds& s = model.tokenizer().special();
  std::vector<int> p{s.sot};
  if (model.multilingual()) {
    if (language >= 0) p.push_back(language);
    else if (s.english >= 0) p.push_back(s.english);
    p.push_back(s.transcribe);
  }
  if (!timestamps) p.push_back(s.no_timestamps);
  return p;
}

Result<std::vector<WindowResult>> greedy_decode(WhisperRunner& runner, int n, const DecodeOptions& options) {
  const WhisperModel& model = runner.model();
  const WhisperTokenizer& tok = model.tokenizer();
  const SpecialIds& sp = tok.special();
  const int vocab = model.config().vocab;
  if (n > runner.slots()) return invalid_argument("greedy_decode: " + std::to_string(n) + " windows, " + std::to_string(runner.slots()) + " encoded");
  std::vector<WindowResult> results(static_cast<std::size_t>(n));
  if (n == 0) return results;

  // Suppressed at every step: the model's list plus faster-whisper's specials.
  std::vector<char> suppress(static_cast<std::size_t>(vocab), 0);
  for (int id : model.decoding().suppress_ids) {
    if (id >= 0 && id < vocab) suppress[static_cast<std::size_t>(id)] = 1;
  }
  std::vector<int> suppress_begin;
  for (int id : model.decoding().suppress_ids_begin) {
    if (id >= 0 && id < vocab) suppress_begin.push_back(id);
  }
  for (int id : {sp.transcribe, sp.translate, sp.sot, sp.sot_prev, sp.sot_lm, sp.no_speech}) suppress[static_cast<std::size_t>(id)] = 1;
  for (int id : options.suppress) {
    if (id >= 0 && id < vocab) suppress[static_cast<std::size_t>(id)] = 1;
  }
  if (!options.languages.empty() && static_cast<int>(options.languages.size()) != n) {
    return invalid_argument("greedy_decode: " + std::to_string(options.languages.size()) + " languages for " + std::to_string(n) + " windows");
  }
  // Every window's prompt has the same length (one language token each), so they step in lockstep.
  std::vector<std::vector<int>> prompts;
  for (int w = 0; w < n; ++w) {
    prompts.push_back(make_prompt(model, options.timestamps, options.languages.empty() ? -1 : options.languages[static_cast<std::size_t>(w)]));
  }
  const int sot_index = 0;
  const int prompt_len = static_cast<int>(prompts[0].size());
  const int max_steps = std::min(std::min(options.max_new_tokens, model.config().text_ctx / 2),
                                 model.config().text_ctx - (prompt_len - 1));
  const int ts_begin = sp.timestamp_begin, ts_end = sp.timestamp_end;
  const int max_initial = ts_begin + static_cast<int>(std::lround(options.max_initial_timestamp / 0.02));

  std::vector<double> sum_logprob(static_cast<std::size_t>(n), 0.0);
  std::vector<char> alive(static_cast<std::size_t>(n), 1);
  std::vector<StepRow> rows;
  std::vector<int> row_of(static_cast<std::size_t>(n), -1);  // the row whose logits sample window i
  std::vector<float> logits;
  std::vector<int> suppress_list;
  for (int i = 0; i < vocab; ++i) {
    if (suppress[static_cast<std::size_t>(i)]) suppress_list.push_back(i);
  }

  // Step 0 input: the whole prompt of every window.
  for (int w = 0; w < n; ++w) {
    for (int i = 0; i < prompt_len; ++i) rows.push_back({w, i, prompts[static_cast<std::size_t>(w)][static_cast<std::size_t>(i)]});
  }
  for (int step = 0; step < max_steps; ++step) {
    PARLEY_RETURN_IF_ERROR(runner.decode(rows, logits));
    // Map windows to the row holding their latest logits.
    int r = 0;
    for (int w = 0; w < n; ++w) {
      if (!alive[static_cast<std::size_t>(w)]) continue;
      if (step == 0) {
        // No-speech probability: softmax of the raw logits right after <|startoftranscript|>.
        const float* x = logits.data() + static_cast<std::size_t>(r + sot_index) * vocab;
        results[static_cast<std::size_t>(w)].no_speech_prob =
            static_cast<float>(std::exp(static_cast<double>(x[sp.no_speech]) - logsumexp(x, vocab)));
        r += prompt_len;
        row_of[static_cast<std::size_t>(w)] = r - 1;
      } else {
        row_of[static_cast<std::size_t>(w)] = r;
        r += 1;
      }
    }
    rows.clear();
    for (int w = 0; w < n; ++w) {
      if (!alive[static_cast<std::size_t>(w)]) continue;
      WindowResult& res = results[static_cast<std::size_t>(w)];
      // The logits row is masked in place (the no-speech probability was read from it already).
      float* masked = logits.data() + static_cast<std::size_t>(row_of[static_cast<std::size_t>(w)]) * vocab;
      for (int id : suppress_list) masked[id] = kNegInf;
      if (step == 0) {
        for (int id : suppress_begin) masked[id] = kNegInf;
      }
      double lse = std::numeric_limits<double>::quiet_NaN();  // of the final masked row, when known
      if (options.timestamps) {
        masked[sp.no_timestamps] = kNegInf;
        bool check_prob = false;
        const std::vector<int>& seq = res.tokens;
        if (step == 0) {
          for (int i = 0; i < ts_begin; ++i) masked[i] = kNegInf;
          for (int i = max_initial + 1; i <= ts_end; ++i) masked[i] = kNegInf;
        } else {
          const int last = seq.back();
          if (last >= ts_begin) {
            const int penultimate = seq.size() >= 2 ? seq[seq.size() - 2] : last;
            if (penultimate >= ts_begin) {
              for (int i = ts_begin; i <= ts_end; ++i) masked[i] = kNegInf;
            } else {
              for (int i = 0; i < sp.eot; ++i) masked[i] = kNegInf;
              for (int i = ts_begin; i < last; ++i) masked[i] = kNegInf;
              check_prob = true;
            }
          } else {
            check_prob = true;
            for (auto it = seq.rbegin(); it != seq.rend(); ++it) {
              if (*it >= ts_begin) {
                for (int i = ts_begin; i <= *it; ++i) masked[i] = kNegInf;
                break;
              }
            }
          }
        }
        if (check_prob) {
          // Sum of the timestamps' probabilities vs the best text token (both under the same
          // normalizer, so compared before it).
          float max_text = kNegInf;
          for (int i = 0; i < ts_begin; ++i) max_text = std::max(max_text, masked[i]);
          const double lse_ts = logsumexp(masked + ts_begin, ts_end - ts_begin + 1);
          if (lse_ts > static_cast<double>(max_text)) {
            for (int i = 0; i < ts_begin; ++i) masked[i] = kNegInf;
            lse = lse_ts;  // only timestamps are left
          }
        }
      }
      // Greedy pick (first maximum) and its log-probability under the masked distribution.
      int best = 0;
      for (int i = 1; i < vocab; ++i) {
        if (masked[i] > masked[best]) best = i;
      }
      if (std::isnan(lse)) lse = logsumexp(masked, vocab);
      sum_logprob[static_cast<std::size_t>(w)] += masked[best] - lse;
      res.steps = step + 1;
      if (best == sp.eot) {
        alive[static_cast<std::size_t>(w)] = 0;
        continue;
      }
      res.tokens.push_back(best);
      if (step + 1 >= max_steps) {
        alive[static_cast<std::size_t>(w)] = 0;
        continue;
      }
      rows.push_back({w, prompt_len + step, best});
    }
    if (rows.empty()) break;
  }

  for (int w = 0; w < n; ++w) {
    WindowResult& res = results[static_cast<std::size_t>(w)];
    res.avg_logprob = sum_logprob[static_cast<std::size_t>(w)] / static_cast<double>(res.tokens.size() + 1);
    res.silence = res.no_speech_prob > options.no_speech_threshold && res.avg_logprob < options.log_prob_threshold;
    if (res.silence) continue;
    res.text = trim(tok.decode_text(res.tokens));
    // Segments: text between timestamp pairs (a trailing text run without a closing timestamp
    // ends at the last timestamp seen).
    double start = 0;
    bool open = false;
    std::vector<int> run;
    for (int t : res.tokens) {
      if (tok.is_timestamp(t)) {
        if (!open) {
          start = tok.timestamp_seconds(t);
          open = true;
        } else {
          if (!run.empty()) res.segments.push_back({start, tok.timestamp_seconds(t), trim(tok.decode_text(run))});
          run.clear();
          open = false;
        }
      } else {
        if (!open) {
          open = true;
        }
        run.push_back(t);
      }
    }
    if (!run.empty()) res.segments.push_back({start, start, trim(tok.decode_text(run))});
  }
  return results;
}

}  // namespace parley::whisper
