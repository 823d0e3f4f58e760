#include "lumac/nn/spam.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "lumac/core/error.hpp"
#include "lumac/core/json.hpp"

namespace lumac::nn {

namespace fs = std::filesystem;

namespace {

const char* const spam_install = "npm ci in the lumac folder (scripts/setup.sh does it)";
constexpr std::array<const char*, 5> spam_groups{"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1",
                                                 "spam-2"};
constexpr int spam_messages = 6046;

fs::path spam_env_or(const char* name, const fs::path& fallback) {
  if (const char* v = std::getenv(name); v && *v) return v;
  return fallback;
}

bool spam_token_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

unsigned char spam_lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}

std::string read_spam_file(const fs::path& path, const char* what, const char* install) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    fail_file("{} '{}' is missing: install it with {}", what, path.string(), install);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_file("{} '{}' cannot be read", what, path.string());
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

struct RawMessage {
  std::string text, checksum;
};

RawMessage parse_message(const fs::path& path) {
  const std::string raw = read_spam_file(path, "SpamAssassin message", spam_install);
  Json j;
  try {
    j = Json::parse(raw);
  } catch (const std::exception&) {
    fail("SpamAssassin message '{}' is not valid JSON; reinstall it with {}", path.string(),
         spam_install);
  }
  if (!j.is_object() || !j.contains("text") || !j["text"].is_string() || !j.contains("checksum") ||
      !j["checksum"].is_object() || !j["checksum"].contains("value") ||
      !j["checksum"]["value"].is_string())
    fail(
        "SpamAssassin message '{}' is not a message object (a string \"text\" and "
        "\"checksum\".\"value\"); reinstall it with {}",
        path.string(), spam_install);
  return {j["text"].get<std::string>(), j["checksum"]["value"].get<std::string>()};
}

}  // namespace

int SpamVocabulary::id(const std::string& token) const {
  const auto it = ids.find(token);
  return it == ids.end() ? spam_unknown_id : it->second;
}

fs::path spam_dir(const fs::path& data_dir) {
  return spam_env_or("LUMAC_SPAM_DIR", data_dir.parent_path() / "node_modules" / "@stdlib" /
                                           "datasets-spam-assassin" / "data");
}

fs::path spam_vocabulary_path(const fs::path& data_dir) {
  return spam_env_or("LUMAC_SPAM_VOCAB", data_dir / "models" / "spam_transformer_vocab.txt");
}

SpamVocabulary read_spam_vocabulary(const fs::path& path) {
  const std::string text =
      read_spam_file(path, "spam vocabulary", "a clean checkout (data/models ships it)");
  SpamVocabulary v;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string token = text.substr(start, end - start);
    start = end + 1;
    const int id = static_cast<int>(v.tokens.size());
    if (!token.empty() && token.back() == '\r')
      fail("spam vocabulary '{}': line {} ends in CR: the file must have Unix (LF) line endings",
           path.string(), id + 1);
    const bool special = (id == 0 && token == "<pad>") || (id == 1 && token == "<unk>");
    if (!special) {
      if (id < 2)
        fail("spam vocabulary '{}': line {} must be '{}'", path.string(), id + 1,
             id == 0 ? "<pad>" : "<unk>");
      const bool single = token == "$" || token == "!";
      if (token.empty() || token.size() > 4096 ||
          (!single && !std::all_of(token.begin(), token.end(), [](char c) {
            return spam_token_byte(static_cast<unsigned char>(c));
          })))
        fail("spam vocabulary '{}': line {} is not a token", path.string(), id + 1);
    }
    if (!v.ids.emplace(token, id).second)
      fail("spam vocabulary '{}': line {} repeats the token '{}'", path.string(), id + 1, token);
    v.tokens.push_back(std::move(token));
    if (v.tokens.size() > (1u << 24))
      fail("spam vocabulary '{}' has more than 2^24 tokens", path.string());
  }
  if (v.tokens.size() < 2) fail("spam vocabulary '{}' is empty or truncated", path.string());
  return v;
}

std::string spam_document(std::string_view text) {
  std::string t;
  t.reserve(text.size());
  for (char c : text)
    if (c != '\r') t.push_back(c);
  const std::size_t blank = t.find("\n\n");
  const std::string_view all(t);
  const std::string_view headers = blank == std::string::npos ? all : all.substr(0, blank);
  const std::string_view body =
      blank == std::string::npos ? std::string_view{} : all.substr(blank + 2);
  std::string_view subject;
  for (std::size_t start = 0; start <= headers.size();) {
    std::size_t end = headers.find('\n', start);
    if (end == std::string_view::npos) end = headers.size();
    const std::string_view line = headers.substr(start, end - start);
    if (line.size() >= 8) {
      std::string head(line.substr(0, 8));
      for (char& c : head) c = static_cast<char>(spam_lower(static_cast<unsigned char>(c)));
      if (head == "subject:") {
        subject = line.substr(8);
        break;
      }
    }
    start = end + 1;
  }
  std::string doc(subject);
  doc.push_back('\n');
  doc.append(body);
  return doc;
}

std::vector<std::string> spam_tokens(std::string_view document, std::size_t max_tokens) {
  std::vector<std::string> out;
  std::string cur;
  for (std::size_t k = 0; k <= document.size() && out.size() < max_tokens; ++k) {
    const unsigned char c =
        k < document.size() ? spam_lower(static_cast<unsigned char>(document[k])) : 0;
    if (k < document.size() && spam_token_byte(c)) {
      cur.push_back(static_cast<char>(c));
      continue;
    }
    if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
    if ((c == '$' || c == '!') && out.size() < max_tokens)
      out.emplace_back(1, static_cast<char>(c));
  }
  return out;
}

std::vector<int> spam_encode(std::string_view text, const SpamVocabulary& vocab) {
  std::vector<int> ids(spam_sequence_length, spam_pad_id);
  const auto tokens = spam_tokens(spam_document(text));
  for (std::size_t k = 0; k < tokens.size(); ++k) ids[k] = vocab.id(tokens[k]);
  return ids;
}

std::string read_spam_message(const fs::path& path) {
  return parse_message(path).text;
}

DatasetSplits load_spam(const fs::path& corpus_dir, const fs::path& vocab_path) {
  std::error_code ec;
  if (!fs::is_directory(corpus_dir, ec))
    fail_file("SpamAssassin corpus folder '{}' is missing: install it with {}", corpus_dir.string(),
              spam_install);
  const SpamVocabulary vocab = read_spam_vocabulary(vocab_path);
  struct Message {
    std::string checksum, group, file;
    int label;
    std::vector<int> ids;
  };
  std::vector<Message> train, test;
  int index = 0;
  for (const char* group : spam_groups) {
    const fs::path dir = corpus_dir / group;
    if (!fs::is_directory(dir, ec))
      fail_file("SpamAssassin folder '{}' is missing: install it with {}", dir.string(),
                spam_install);
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".json") files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      const fs::path path = dir / f;
      RawMessage raw = parse_message(path);
      Message m{std::move(raw.checksum), group, f,
                std::string_view(group).starts_with("spam") ? 1 : 0, spam_encode(raw.text, vocab)};
      (index % 5 == 4 ? test : train).push_back(std::move(m));
      ++index;
    }
  }
  if (index != spam_messages)
    fail("SpamAssassin corpus in '{}': {} messages, expected {}; reinstall it with {}",
         corpus_dir.string(), index, spam_messages, spam_install);
  auto make = [&](std::vector<Message>& ms, const char* split) {
    std::sort(ms.begin(), ms.end(), [](const Message& a, const Message& b) {
      return std::tie(a.checksum, a.group, a.file) < std::tie(b.checksum, b.group, b.file);
    });
    Dataset d;
    d.name = "spam";
    d.split = split;
    d.sample_shape = {spam_sequence_length};
    d.classes = 2;
    d.pixels.reserve(ms.size() * spam_sequence_length);
    for (const auto& m : ms) {
      for (int id : m.ids) d.pixels.push_back(static_cast<float>(id));
      d.labels.push_back(m.label);
    }
    return d;
  };
  return {make(train, "train"), make(test, "test")};
}

}  // namespace lumac::nn
