#include "lex/Lexer.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace cnnc {

const char* tokName(Tok kind) {
  switch (kind) {
    case Tok::Ident: return "ident";
    case Tok::Int: return "int";
    case Tok::Float: return "float";
    case Tok::Shape: return "shape";
    case Tok::KwModel: return "kw_model";
    case Tok::KwTrain: return "kw_train";
    case Tok::KwTrue: return "kw_true";
    case Tok::KwFalse: return "kw_false";
    case Tok::LBrace: return "l_brace";
    case Tok::RBrace: return "r_brace";
    case Tok::LParen: return "l_paren";
    case Tok::RParen: return "r_paren";
    case Tok::LBracket: return "l_square";
    case Tok::RBracket: return "r_square";
    case Tok::Comma: return "comma";
    case Tok::Colon: return "colon";
    case Tok::Equal: return "equal";
    case Tok::Arrow: return "arrow";
    case Tok::Newline: return "newline";
    case Tok::Eof: return "eof";
    case Tok::Error: return "error";
  }
  return "?";
}

std::string Token::describe() const {
  switch (kind) {
    case Tok::Newline: return "end of line";
    case Tok::Eof: return "end of file";
    default: return fmt::format("'{}'", text);
  }
}

namespace {

// Literals beyond this are refused by the lexer: no tensor dimension,
// count or seed in a .cnn file needs more, and it keeps every product
// the checker forms far from int64 overflow.
constexpr int64_t kMaxIntLiteral = int64_t(1) << 40;

class Lexer {
 public:
  explicit Lexer(SourceFile& file) : file_(file), p_(file.begin()), end_(file.end()) {}

  std::vector<Token> run() {
    std::vector<Token> tokens;
    for (;;) {
      Token t = next();
      // Collapse blank lines: one Newline token ends a statement.
      if (t.is(Tok::Newline) && (tokens.empty() || tokens.back().is(Tok::Newline))) continue;
      bool eof = t.is(Tok::Eof);
      tokens.push_back(std::move(t));
      if (eof) return tokens;
    }
  }

 private:
  Loc here() const { return Loc{line_, static_cast<uint32_t>(p_ - lineStart_) + 1, static_cast<uint32_t>(p_ - file_.begin())}; }
  char peek(size_t ahead = 0) const { return p_ + ahead < end_ ? p_[ahead] : '\0'; }

  Token make(Tok kind, Loc loc, const char* start) {
    Token t;
    t.kind = kind;
    t.loc = loc;
    t.text.assign(start, p_);
    return t;
  }

  Token next() {
    // Skip spaces and comments (a comment runs to the end of the line).
    for (;;) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\r') {
        ++p_;
      } else if (c == '#') {
        while (p_ < end_ && *p_ != '\n') ++p_;
      } else {
        break;
      }
    }
    Loc loc = here();
    const char* start = p_;
    if (p_ >= end_) return make(Tok::Eof, loc, start);
    char c = *p_;
    if (c == '\n') {
      ++p_;
      Token t = make(Tok::Newline, loc, start);
      t.text = "\\n";
      ++line_;
      lineStart_ = p_;
      return t;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') return identifier(loc);
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && std::isdigit(static_cast<unsigned char>(peek(1)))) ||
        (c == '-' && (std::isdigit(static_cast<unsigned char>(peek(1))) || peek(1) == '.')))
      return number(loc);
    ++p_;
    switch (c) {
      case '{': return make(Tok::LBrace, loc, start);
      case '}': return make(Tok::RBrace, loc, start);
      case '(': return make(Tok::LParen, loc, start);
      case ')': return make(Tok::RParen, loc, start);
      case '[': return make(Tok::LBracket, loc, start);
      case ']': return make(Tok::RBracket, loc, start);
      case ',': return make(Tok::Comma, loc, start);
      case ':': return make(Tok::Colon, loc, start);
      case '=': return make(Tok::Equal, loc, start);
      case '-':
        if (peek() == '>') {
          ++p_;
          return make(Tok::Arrow, loc, start);
        }
        break;
    }
    // Take a whole UTF-8 sequence so the message shows the character.
    while (p_ < end_ && (static_cast<unsigned char>(*p_) & 0xC0) == 0x80) ++p_;
    Token t = make(Tok::Error, loc, start);
    file_.error(loc, fmt::format("unexpected character '{}'", t.text));
    return t;
  }

  Token identifier(Loc loc) {
    const char* start = p_;
    while (p_ < end_ && (std::isalnum(static_cast<unsigned char>(*p_)) || *p_ == '_')) ++p_;
    Token t = make(Tok::Ident, loc, start);
    if (t.text == "model") t.kind = Tok::KwModel;
    else if (t.text == "train") t.kind = Tok::KwTrain;
    else if (t.text == "true") t.kind = Tok::KwTrue;
    else if (t.text == "false") t.kind = Tok::KwFalse;
    return t;
  }

  // INT, FLOAT or SHAPE. A sign is taken here so that `lr=-1` can be
  // refused by the checker with a message about the value, not the '-'.
  Token number(Loc loc) {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    auto digits = [&] {
      while (p_ < end_ && std::isdigit(static_cast<unsigned char>(*p_))) ++p_;
    };
    digits();
    bool isFloat = false;
    if (peek() == '.') {
      isFloat = true;
      ++p_;
      digits();
    }
    if ((peek() == 'e' || peek() == 'E') &&
        (std::isdigit(static_cast<unsigned char>(peek(1))) ||
         ((peek(1) == '-' || peek(1) == '+') && std::isdigit(static_cast<unsigned char>(peek(2)))))) {
      isFloat = true;
      p_ += 2;
      digits();
    }
    bool isShape = false;
    if (!isFloat && *start != '-') {
      while (peek() == 'x' && std::isdigit(static_cast<unsigned char>(peek(1)))) {
        isShape = true;
        ++p_;
        digits();
      }
    }
    // `5abc`, `1x28x`, `3.0.1`: a number glued to more word characters.
    if (p_ < end_ && (std::isalnum(static_cast<unsigned char>(*p_)) || *p_ == '_' || *p_ == '.')) {
      while (p_ < end_ && (std::isalnum(static_cast<unsigned char>(*p_)) || *p_ == '_' || *p_ == '.')) ++p_;
      Token t = make(Tok::Error, loc, start);
      file_.error(loc, fmt::format("invalid number '{}'", t.text));
      return t;
    }
    Token t = make(isFloat ? Tok::Float : isShape ? Tok::Shape : Tok::Int, loc, start);
    if (isFloat) {
      errno = 0;
      t.floatValue = std::strtod(t.text.c_str(), nullptr);
      if (errno == ERANGE || !std::isfinite(t.floatValue)) return tooLarge(t);
      return t;
    }
    if (isShape) {
      for (const char* q = start; q < p_;) {
        int64_t value;
        if (!parseInt(q, value)) return tooLarge(t);
        t.dims.push_back(value);
        if (q < p_ && *q == 'x') ++q;
      }
      return t;
    }
    const char* q = start;
    if (!parseInt(q, t.intValue)) return tooLarge(t);
    return t;
  }

  // Reads an optionally signed decimal at q, advancing q; false if it is
  // larger in magnitude than kMaxIntLiteral.
  static bool parseInt(const char*& q, int64_t& value) {
    bool negative = *q == '-';
    if (negative) ++q;
    value = 0;
    for (; std::isdigit(static_cast<unsigned char>(*q)); ++q) {
      value = value * 10 + (*q - '0');
      if (value > kMaxIntLiteral) return false;
    }
    if (negative) value = -value;
    return true;
  }

  Token tooLarge(Token t) {
    if (t.kind == Tok::Float)
      file_.error(t.loc, fmt::format("number '{}' is out of the range of a 64-bit float", t.text));
    else
      file_.error(t.loc, fmt::format("number '{}' is too large (the limit is {})", t.text, kMaxIntLiteral));
    t.kind = Tok::Error;
    return t;
  }

  SourceFile& file_;
  const char* p_;
  const char* end_;
  const char* lineStart_ = p_;
  uint32_t line_ = 1;
};

}  // namespace

std::vector<Token> lex(SourceFile& file) { return Lexer(file).run(); }

std::string dumpTokens(const SourceFile& file, const std::vector<Token>& tokens) {
  std::string out;
  for (const Token& t : tokens) {
    out += fmt::format("{:<22} {:<9}", file.describe(t.loc), tokName(t.kind));
    if (!t.is(Tok::Eof)) out += fmt::format(" '{}'", t.text);
    // Trim the padding of short lines so dumps have no trailing spaces.
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
  }
  return out;
}

}  // namespace cnnc
