// JointBERT reader and span scoring (see jointbert.h).
#include "services/nlu/eval/jointbert.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "services/nlu/text_checks.h"

namespace parley::nlu::eval {

namespace {

Result<std::vector<std::string>> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> split_ws(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

}  // namespace

Result<Split> read_split(const std::string& dir) {
  PARLEY_ASSIGN_OR_RETURN(auto words, read_lines(dir + "/seq.in"));
  PARLEY_ASSIGN_OR_RETURN(auto tags, read_lines(dir + "/seq.out"));
  PARLEY_ASSIGN_OR_RETURN(auto labels, read_lines(dir + "/label"));
  if (words.size() != tags.size() || words.size() != labels.size()) {
    return invalid_argument(dir + ": seq.in, seq.out and label differ in line count");
  }
  Split split;
  for (std::size_t i = 0; i < words.size(); ++i) {
    auto w = split_ws(words[i]);
    auto t = split_ws(tags[i]);
    if (w.empty() || w.size() != t.size() || find_invalid_utf8(words[i])) {
      ++split.skipped;
      continue;
    }
    Example ex;
    ex.intent = labels[i];
    std::vector<int> starts;
    for (std::size_t k = 0; k < w.size(); ++k) {
      if (k > 0) ex.text.push_back(' ');
      starts.push_back(static_cast<int>(ex.text.size()));
      ex.text += w[k];
    }
    for (std::size_t k = 0; k < t.size(); ++k) {
      const std::string& tag = t[k];
      int b = starts[k], e = starts[k] + static_cast<int>(w[k].size());
      if (tag.size() > 2 && (tag[0] == 'B' || tag[0] == 'I') && tag[1] == '-') {
        std::string slot = tag.substr(2);
        bool continues = tag[0] == 'I' && !ex.spans.empty() && ex.spans.back().slot == slot && k > 0 &&
                         t[k - 1].size() > 2 && t[k - 1].substr(2) == slot;
        if (continues) {
          ex.spans.back().end = e;
        } else {
          ex.spans.push_back({slot, b, e});
        }
      }
    }
    split.examples.push_back(std::move(ex));
  }
  return split;
}

v1::TrainRequest to_train_request(const Split& train, const std::string& bot_id) {
  v1::TrainRequest r;
  r.set_bot_id(bot_id);
  std::map<std::string, v1::IntentDefinition*> intents;
  std::set<std::string> slots;
  for (const Example& ex : train.examples) {
    auto& intent = intents[ex.intent];
    if (intent == nullptr) {
      intent = r.add_intents();
      intent->set_name(ex.intent);
    }
    auto* e = intent->add_examples();
    e->set_text(ex.text);
    for (const GoldSpan& s : ex.spans) {
      auto* span = e->add_slots();
      span->set_slot(s.slot);
      span->set_start(s.start);
      span->set_end(s.end);
      slots.insert(s.slot);
    }
  }
  for (const std::string& s : slots) {
    auto* d = r.add_slots();
    d->set_name(s);
    d->set_type(v1::SlotDefinition::FREE_TEXT);
  }
  return r;
}

void SpanScore::add(const std::vector<GoldSpan>& g, const std::vector<GoldSpan>& p) {
  std::vector<GoldSpan> a = g, b = p;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::vector<GoldSpan> both;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
  correct += both.size();
  gold += a.size();
  predicted += b.size();
}

}  // namespace parley::nlu::eval
