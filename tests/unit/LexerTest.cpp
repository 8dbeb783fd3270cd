#include <catch2/catch.hpp>

#include "Helpers.h"

using namespace cnnc;

namespace {
std::vector<Token> lexText(const std::string& text, std::string* messages = nullptr) {
  auto file = SourceFile::fromText("lex.cnn", text);
  std::string sink;
  file->captureMessages(messages ? messages : &sink);
  auto tokens = lex(*file);
  file->flush();
  return tokens;
}
}  // namespace

TEST_CASE("every token carries its line and column", "[lex]") {
  auto t = lexText("model m {\n  input 1x28x28\n}\n");
  REQUIRE(t.size() == 10);
  CHECK(t[0].kind == Tok::KwModel);
  CHECK(t[1].kind == Tok::Ident);
  CHECK(t[1].text == "m");
  CHECK(t[2].kind == Tok::LBrace);
  CHECK(t[3].kind == Tok::Newline);
  CHECK(t[4].text == "input");
  CHECK(t[4].loc.line == 2);
  CHECK(t[4].loc.col == 3);
  CHECK(t[5].kind == Tok::Shape);
  CHECK(t[5].loc.col == 9);
  CHECK(t[5].dims == std::vector<int64_t>{1, 28, 28});
  CHECK(t[7].kind == Tok::RBrace);
  CHECK(t[7].loc.line == 3);
  CHECK(t[8].kind == Tok::Newline);
  CHECK(t[9].kind == Tok::Eof);
}

TEST_CASE("numbers: INT, FLOAT and SHAPE", "[lex]") {
  auto t = lexText("16 0.01 1e-8 .5 3x3 5x3 784 -2 2.5E+3");
  REQUIRE(t.size() == 10);
  CHECK(t[0].kind == Tok::Int);
  CHECK(t[0].intValue == 16);
  CHECK(t[1].kind == Tok::Float);
  CHECK(t[1].floatValue == Approx(0.01));
  CHECK(t[2].kind == Tok::Float);
  CHECK(t[2].floatValue == Approx(1e-8));
  CHECK(t[3].floatValue == Approx(0.5));
  CHECK(t[4].kind == Tok::Shape);
  CHECK(t[4].dims == std::vector<int64_t>{3, 3});
  CHECK(t[5].dims == std::vector<int64_t>{5, 3});
  CHECK(t[6].kind == Tok::Int);  // a single INT is an Int token, accepted where a SHAPE is
  CHECK(t[7].kind == Tok::Int);
  CHECK(t[7].intValue == -2);
  CHECK(t[8].kind == Tok::Float);
  CHECK(t[8].floatValue == Approx(2500));
}

TEST_CASE("arrows, punctuation, keywords and comments", "[lex]") {
  auto t = lexText("a: relu -> maxpool(2, stride=1) # comment -> ( ignored\ntrue false train");
  std::vector<Tok> kinds;
  for (const Token& tok : t) kinds.push_back(tok.kind);
  CHECK(kinds == std::vector<Tok>{Tok::Ident, Tok::Colon, Tok::Ident, Tok::Arrow, Tok::Ident, Tok::LParen, Tok::Int,
                                  Tok::Comma, Tok::Ident, Tok::Equal, Tok::Int, Tok::RParen, Tok::Newline,
                                  Tok::KwTrue, Tok::KwFalse, Tok::KwTrain, Tok::Eof});
}

TEST_CASE("blank lines and comment lines give one newline", "[lex]") {
  auto t = lexText("a\n\n# only a comment\n\n   \nb\n");
  REQUIRE(t.size() == 5);
  CHECK(t[1].kind == Tok::Newline);
  CHECK(t[2].text == "b");
  CHECK(t[2].loc.line == 6);
}

TEST_CASE("malformed tokens are reported with their location", "[lex]") {
  std::string messages;
  auto t = lexText("a @ 5abc 1x28x\n99999999999999999999 1e999", &messages);
  CHECK(t[1].kind == Tok::Error);
  CHECK(messages.find("lex.cnn:1:3: error: unexpected character '@'") != std::string::npos);
  CHECK(messages.find("lex.cnn:1:5: error: invalid number '5abc'") != std::string::npos);
  CHECK(messages.find("lex.cnn:1:10: error: invalid number '1x28x'") != std::string::npos);
  CHECK(messages.find("lex.cnn:2:1: error: number '99999999999999999999' is too large") != std::string::npos);
  CHECK(messages.find("lex.cnn:2:22: error: number '1e999' is out of the range") != std::string::npos);
}

TEST_CASE("a lone '-' is not an arrow", "[lex]") {
  std::string messages;
  auto t = lexText("relu - relu", &messages);
  CHECK(t[1].kind == Tok::Error);
  CHECK(messages.find("1:6: error: unexpected character '-'") != std::string::npos);
}
