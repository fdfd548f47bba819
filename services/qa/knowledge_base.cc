// Knowledge base build and store.
#include "services/qa/knowledge_base.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_set>

#include "services/qa/text_utils.h"

namespace parley::qa {

float KnowledgeBase::sentence_similarity(std::size_t row, const QuantizedVector& query) const {
  auto n = static_cast<std::size_t>(dim_);
  if (row >= sentence_scales_.size() || query.q.size() != n) return 0.0f;
  return static_cast<float>(dot_int8(query.q.data(), sentence_codes_.data() + row * n, n)) * query.scale *
         sentence_scales_[row];
}

float KnowledgeBase::idf(const std::string& stemmed) const {
  auto it = idf_.find(stemmed);
  return it == idf_.end() ? max_idf_ : it->second;
}

namespace {

Status embed_all(const Embedder& embedder, const std::vector<std::string>& texts, std::size_t batch,
                 std::vector<float>& out) {
  for (std::size_t i = 0; i < texts.size(); i += batch) {
    std::vector<std::string> part(texts.begin() + static_cast<std::ptrdiff_t>(i),
                                  texts.begin() + static_cast<std::ptrdiff_t>(std::min(texts.size(), i + batch)));
    auto e = embedder.embed(part);
    if (!e.ok()) return e.status().with_context("embedding passages");
    if (e->dim != embedder.dim() || e->count() != part.size()) {
      return internal_error("embedder returned " + std::to_string(e->count()) + " vectors of " +
                            std::to_string(e->dim) + " dimensions for " + std::to_string(part.size()) + " texts");
    }
    out.insert(out.end(), e->data.begin(), e->data.end());
  }
  return Status::ok();
}

}  // namespace

Result<std::shared_ptr<const KnowledgeBase>> KnowledgeBase::build(std::string id, const KnowledgeBase* previous,
                                                                  const std::vector<DocumentInput>& documents,
                                                                  const Embedder& embedder,
                                                                  const BuildOptions& options, BuildReport* report) {
  auto kb = std::shared_ptr<KnowledgeBase>(new KnowledgeBase());
  kb->id_ = std::move(id);
  kb->dim_ = embedder.dim();
  auto n = static_cast<std::size_t>(kb->dim_);
  kb->default_mode_ = options.default_mode != 0 ? options.default_mode : (previous ? previous->default_mode_ : 0);
  kb->default_min_score_ =
      options.default_min_score != 0 ? options.default_min_score : (previous ? previous->default_min_score_ : 0);
  const bool can_keep = previous != nullptr && previous->dim_ == kb->dim_;

  // Chunk the new documents. One whose passages come out exactly as the previous KB holds them
  // (same headings, text and sentence cuts: the same document under the same chunking) keeps
  // its vectors: a dialog re-sends every knowledge base when it starts or sees a replica again,
  // and embedding a large one again costs minutes of CPU for nothing.
  std::map<std::string, std::vector<std::size_t>> previous_rows;  // document id -> its passages, in order
  if (can_keep) {
    for (std::size_t p = 0; p < previous->passages_.size(); ++p) previous_rows[previous->passages_[p].document_id].push_back(p);
  }
  std::vector<std::vector<Chunk>> chunked;  // per new document; empty when it is unchanged
  std::set<std::string> replaced;
  std::size_t unchanged = 0;
  for (const auto& d : documents) {
    std::vector<Chunk> chunks = chunk_document(d.title, d.text, options.chunk);
    bool same = false;
    if (auto it = previous_rows.find(d.id); it != previous_rows.end() && it->second.size() == chunks.size()) {
      same = true;
      for (std::size_t c = 0; same && c < chunks.size(); ++c) {
        const StoredPassage& old = previous->passages_[it->second[c]];
        same = old.title == chunks[c].context && old.text == chunks[c].text &&
               old.sentences.size() == chunks[c].sentences.size() &&
               std::equal(old.sentences.begin(), old.sentences.end(), chunks[c].sentences.begin(),
                          [](Span a, Span b) { return a.begin == b.begin && a.end == b.end; });
      }
    }
    if (same) {
      ++unchanged;
      chunks.clear();
    } else {
      replaced.insert(d.id);
    }
    chunked.push_back(std::move(chunks));
  }
  if (report != nullptr) report->unchanged_documents = unchanged;
  std::set<std::string> doc_ids;

  // Keep the previous KB's passages whose documents are not being replaced (no re-embedding).
  if (can_keep) {
    for (std::size_t p = 0; p < previous->passages_.size(); ++p) {
      const StoredPassage& old = previous->passages_[p];
      if (replaced.count(old.document_id) != 0) continue;
      StoredPassage sp = old;
      sp.first_sentence = kb->sentence_scales_.size();
      for (std::size_t s = 0; s < old.sentences.size(); ++s) {
        std::size_t row = old.first_sentence + s;
        kb->sentence_codes_.insert(kb->sentence_codes_.end(), previous->sentence_codes_.begin() + static_cast<std::ptrdiff_t>(row * n),
                                   previous->sentence_codes_.begin() + static_cast<std::ptrdiff_t>((row + 1) * n));
        kb->sentence_scales_.push_back(previous->sentence_scales_[row]);
      }
      kb->passage_vectors_.insert(kb->passage_vectors_.end(), previous->passage_vectors_.begin() + static_cast<std::ptrdiff_t>(p * n),
                                  previous->passage_vectors_.begin() + static_cast<std::ptrdiff_t>((p + 1) * n));
      doc_ids.insert(sp.document_id);
      kb->passages_.push_back(std::move(sp));
    }
  }

  // The changed (or new) documents' passages, to embed.
  std::vector<std::string> passage_texts;
  std::vector<std::string> sentence_texts;
  std::size_t first_new = kb->passages_.size();
  constexpr std::size_t kNamedEmpty = 5;
  std::size_t empty_documents = 0;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    const DocumentInput& d = documents[i];
    if (replaced.count(d.id) == 0) continue;  // unchanged: kept above
    std::vector<Chunk>& chunks = chunked[i];
    doc_ids.insert(d.id);
    // Named up to kNamedEmpty (a request may hold 1000 documents: the reply stays small), then counted.
    if (chunks.empty() && report != nullptr && ++empty_documents <= kNamedEmpty) {
      report->warnings.push_back("document '" + d.id.substr(0, 128) +
                                 "' has no text outside its headings: nothing in it can be answered");
    }
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      StoredPassage sp;
      sp.id = d.id + "#" + std::to_string(c);
      sp.document_id = d.id;
      sp.title = std::move(chunks[c].context);
      sp.text = std::move(chunks[c].text);
      sp.sentences = std::move(chunks[c].sentences);
      passage_texts.push_back(sp.title.empty() ? sp.text : sp.title + "\n" + sp.text);
      for (Span s : sp.sentences) sentence_texts.push_back(sp.text.substr(s.begin, s.size()));
      kb->passages_.push_back(std::move(sp));
      if (kb->passages_.size() > options.max_passages) {
        return resource_exhausted("knowledge base '" + kb->id_ + "' would hold more than " +
                                  std::to_string(options.max_passages) + " passages (qa.max_passages_per_kb)");
      }
    }
  }
  kb->documents_ = doc_ids.size();
  if (report != nullptr && empty_documents > kNamedEmpty) {
    report->warnings.push_back(std::to_string(empty_documents - kNamedEmpty) +
                               " more documents have no text outside their headings");
  }

  PARLEY_RETURN_IF_ERROR(embed_all(embedder, passage_texts, options.embed_batch, kb->passage_vectors_));
  std::vector<float> sentence_vectors;
  PARLEY_RETURN_IF_ERROR(embed_all(embedder, sentence_texts, options.embed_batch, sentence_vectors));
  std::size_t srow = 0;
  for (std::size_t p = first_new; p < kb->passages_.size(); ++p) {
    StoredPassage& sp = kb->passages_[p];
    sp.first_sentence = kb->sentence_scales_.size();
    for (std::size_t s = 0; s < sp.sentences.size(); ++s, ++srow) {
      QuantizedVector q = quantize_int8(std::span<const float>(sentence_vectors.data() + srow * n, n));
      kb->sentence_codes_.insert(kb->sentence_codes_.end(), q.q.begin(), q.q.end());
      kb->sentence_scales_.push_back(q.scale);
    }
  }

  PARLEY_ASSIGN_OR_RETURN(kb->index_, make_index(options.index_kind, kb->dim_));
  for (std::size_t p = 0; p < kb->passages_.size(); ++p) {
    PARLEY_RETURN_IF_ERROR(kb->index_->add(std::span<const float>(kb->passage_vectors_.data() + p * n, n)));
  }

  // Word statistics over passages (for IDF-weighted lexical overlap).
  std::unordered_map<std::string, std::size_t> df;
  for (const auto& sp : kb->passages_) {
    std::unordered_set<std::string> seen;
    for (const auto& w : words(sp.text)) seen.insert(stem(w.norm));
    for (const auto& w : seen) ++df[w];
  }
  double total = static_cast<double>(kb->passages_.size());
  kb->max_idf_ = static_cast<float>(std::log((total + 1.0) / 1.0) + 1.0);
  for (const auto& [w, count] : df) {
    kb->idf_[w] = static_cast<float>(std::log((total + 1.0) / (static_cast<double>(count) + 1.0)) + 1.0);
  }
  return std::shared_ptr<const KnowledgeBase>(std::move(kb));
}

std::shared_ptr<const KnowledgeBase> KbStore::get(const std::string& id) const {
  std::shared_lock lock(mu_);
  auto it = kbs_.find(id);
  return it == kbs_.end() ? nullptr : it->second;
}

Status KbStore::put(std::shared_ptr<const KnowledgeBase> kb) {
  std::unique_lock lock(mu_);
  if (kbs_.count(kb->id()) == 0 && kbs_.size() >= max_kbs_) {
    return resource_exhausted("this service already holds " + std::to_string(max_kbs_) +
                              " knowledge bases (qa.max_knowledge_bases); drop one first");
  }
  kbs_[kb->id()] = std::move(kb);
  return Status::ok();
}

bool KbStore::drop(const std::string& id) {
  std::unique_lock lock(mu_);
  return kbs_.erase(id) > 0;
}

std::size_t KbStore::size() const {
  std::shared_lock lock(mu_);
  return kbs_.size();
}

std::size_t KbStore::total_passages() const {
  std::shared_lock lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, kb] : kbs_) n += kb->passages().size();
  return n;
}

}  // namespace parley::qa
