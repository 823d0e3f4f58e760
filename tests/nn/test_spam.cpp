// The SpamAssassin dataset (nn/spam.hpp): the tokenizer against the ids that the training script
// (scripts/spam_corpus.py) wrote for synthetic texts and real messages
// (tests/data/spam/tokens.json), the fixed split and order, and damaged or missing files.
#include <fstream>
#include <sstream>

#include "lumac/core/json.hpp"
#include "lumac/nn/spam.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

namespace {

Json spam_fixture() {
  std::ifstream in(source_dir() / "tests" / "data" / "spam" / "tokens.json");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str());
}

nn::SpamVocabulary shipped_vocabulary() {
  return nn::read_spam_vocabulary(nn::spam_vocabulary_path(source_dir() / "data"));
}

}  // namespace

TEST_CASE("spam: the tokenizer gives the training script's tokens and ids on edge cases") {
  const Json f = spam_fixture();
  const auto vocab = shipped_vocabulary();
  CHECK(static_cast<int>(vocab.tokens.size()) == f["vocab_size"].get<int>());
  REQUIRE(f["documents"].size() >= 6);
  for (const auto& d : f["documents"]) {
    const std::string text = d["text"].get<std::string>();
    CAPTURE(text);
    CHECK(nn::spam_tokens(nn::spam_document(text)) == d["tokens"].get<std::vector<std::string>>());
    CHECK(nn::spam_encode(text, vocab) == d["ids"].get<std::vector<int>>());
  }
  CHECK(nn::spam_tokens("a b c d", 2) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("spam: the corpus splits, orders and encodes messages as the training script did") {
  const Json f = spam_fixture();
  const nn::DatasetSplits s = nn::load_dataset(nn::DatasetName::spam, source_dir() / "data");
  CHECK(s.train.size() == f["train"].get<std::int64_t>());
  CHECK(s.test.size() == f["test"].get<std::int64_t>());
  CHECK(s.test.sample_shape == nn::Shape{128});
  CHECK(s.test.classes == 2);
  CHECK(std::count(s.test.labels.begin(), s.test.labels.end(), 1) == f["test_spam"].get<int>());
  // The first 100 test messages mix both classes (the checksum order).
  const auto spam100 = std::count(s.test.labels.begin(), s.test.labels.begin() + 100, 1);
  CHECK(spam100 > 15);
  CHECK(spam100 < 50);
  const auto vocab = shipped_vocabulary();
  const fs::path corpus = nn::spam_dir(source_dir() / "data");
  REQUIRE(f["messages"].size() >= 10);
  for (const auto& m : f["messages"]) {
    const std::string file = m["file"].get<std::string>();
    CAPTURE(file);
    const auto ids = m["ids"].get<std::vector<int>>();
    const nn::Dataset& d = m["split"] == "test" ? s.test : s.train;
    const auto pos = m["position"].get<std::int64_t>();
    REQUIRE(pos < d.size());
    CHECK(d.labels[static_cast<std::size_t>(pos)] == m["label"].get<int>());
    const float* x = d.image(pos);
    CHECK(std::vector<int>(x, x + 128) == ids);
    const std::string text = nn::read_spam_message(corpus / m["group"].get<std::string>() / file);
    CHECK(nn::spam_encode(text, vocab) == ids);
  }
}

TEST_CASE("spam: a missing or damaged corpus or vocabulary is one error naming the file") {
  TempDir tmp;
  const std::string missing = "folder '" + (tmp / "none").string() + "' is missing";
  CHECK_THROWS_WITH_AS(nn::load_spam(tmp / "none", nn::spam_vocabulary_path(source_dir() / "data")),
                       doctest::Contains(missing.c_str()), Error);
  fs::create_directories(tmp / "corpus" / "easy-ham-1");
  CHECK_THROWS_WITH_AS(
      nn::load_spam(tmp / "corpus", nn::spam_vocabulary_path(source_dir() / "data")),
      doctest::Contains("easy-ham-2' is missing"), Error);
  write_text(tmp / "bad.json", "{\"text\": \"Subject: hi\", \"checksum\"");
  CHECK_THROWS_WITH_AS(nn::read_spam_message(tmp / "bad.json"),
                       doctest::Contains("bad.json' is not valid JSON"), Error);
  write_text(tmp / "odd.json", "{\"text\": 3, \"checksum\": {\"value\": \"ab\"}}");
  CHECK_THROWS_WITH_AS(nn::read_spam_message(tmp / "odd.json"),
                       doctest::Contains("odd.json' is not a message object"), Error);
  CHECK_THROWS_WITH_AS(nn::read_spam_message(tmp / "gone.json"),
                       doctest::Contains("gone.json' is missing"), Error);
  const std::vector<std::pair<std::string, std::string>> vocabs{
      {"", "is empty"},
      {"the\n<unk>\n", "line 1 must be '<pad>'"},
      {"<pad>\n<unk>\nthe\nthe\n", "line 4 repeats the token 'the'"},
      {"<pad>\n<unk>\nhello world\n", "line 3 is not a token"},
      {"<pad>\n<unk>\n\n", "line 3 is not a token"},
      {"<pad>\r\n<unk>\r\n", "line 1 ends in CR"}};
  for (const auto& v : vocabs) {
    CAPTURE(v.second);
    write_text(tmp / "vocab.txt", v.first);
    CHECK_THROWS_WITH_AS(nn::read_spam_vocabulary(tmp / "vocab.txt"),
                         doctest::Contains(v.second.c_str()), Error);
  }
  CHECK_THROWS_WITH_AS(nn::read_spam_vocabulary(tmp / "none.txt"),
                       doctest::Contains("none.txt' is missing"), Error);
}
