#include "parse/Parser.h"

#include <fmt/format.h>

namespace cnnc {

namespace {

class Parser {
 public:
  Parser(SourceFile& file, const std::vector<Token>& tokens) : file_(file), tokens_(tokens) {}

  // file := { model | train }
  File parseFile() {
    File ast;
    for (;;) {
      skipNewlines();
      if (cur().is(Tok::Eof)) return ast;
      if (cur().is(Tok::KwModel)) {
        ast.models.push_back(parseModel());
      } else if (cur().is(Tok::KwTrain)) {
        ast.trains.push_back(parseTrain());
      } else {
        error(cur(), fmt::format("expected 'model' or 'train', found {}", cur().describe()));
        skipToNextBlock();
      }
    }
  }

 private:
  const Token& cur() const { return tokens_[pos_]; }
  const Token& ahead(size_t n) const { return tokens_[std::min(pos_ + n, tokens_.size() - 1)]; }
  const Token& take() {
    const Token& t = tokens_[pos_];
    if (!t.is(Tok::Eof)) ++pos_;
    return t;
  }
  void skipNewlines() {
    while (cur().is(Tok::Newline)) ++pos_;
  }
  // Reports at `at`, unless the lexer already reported that token.
  void error(const Token& at, const std::string& message) {
    if (!at.is(Tok::Error)) file_.error(at.loc, message);
  }

  // After an error inside a statement: skip to the end of its line, or to
  // the '}' that closes the block, whichever comes first.
  void skipStatement() {
    int parens = 0;
    for (;; take()) {
      const Token& t = cur();
      if (t.is(Tok::Eof)) return;
      if (t.is(Tok::LParen)) ++parens;
      if (t.is(Tok::RParen) && parens > 0) --parens;
      if (parens == 0 && (t.is(Tok::Newline) || t.is(Tok::RBrace))) return;
    }
  }

  // After an error at top level: skip to the next 'model' or 'train' that
  // starts a line, stepping over whole `{ ... }` blocks.
  void skipToNextBlock() {
    int braces = 0;
    bool lineStart = false;
    for (;; take()) {
      const Token& t = cur();
      if (t.is(Tok::Eof)) return;
      if (braces == 0 && lineStart && (t.is(Tok::KwModel) || t.is(Tok::KwTrain))) return;
      if (t.is(Tok::LBrace)) ++braces;
      if (t.is(Tok::RBrace) && braces > 0) --braces;
      lineStart = t.is(Tok::Newline);
    }
  }

  // '{' { stmt NL } '}' around `parseStatement`; `what` names the block.
  template <typename Fn>
  void parseBlock(const std::string& what, Fn parseStatement) {
    skipNewlines();
    if (!cur().is(Tok::LBrace)) {
      error(cur(), fmt::format("expected '{{' to open {}, found {}", what, cur().describe()));
      skipToNextBlock();
      return;
    }
    Loc open = take().loc;
    for (;;) {
      skipNewlines();
      if (cur().is(Tok::RBrace)) {
        take();
        return;
      }
      if (cur().is(Tok::Eof) || cur().is(Tok::KwModel) || cur().is(Tok::KwTrain)) {
        error(cur(), fmt::format("expected '}}' to close {}, found {}", what, cur().describe()));
        file_.note(open, fmt::format("{} opened here", what));
        return;
      }
      if (!parseStatement()) {
        skipStatement();
        continue;
      }
      if (cur().is(Tok::Newline) || cur().is(Tok::RBrace)) continue;
      error(cur(), fmt::format("expected end of line, found {}", cur().describe()));
      skipStatement();
    }
  }

  // model := 'model' IDENT '{' { mstmt NL } '}'
  Model parseModel() {
    Model m;
    m.loc = take().loc;
    if (cur().is(Tok::Ident)) {
      m.name = take().text;
    } else {
      error(cur(), fmt::format("expected a model name after 'model', found {}", cur().describe()));
    }
    parseBlock(fmt::format("model '{}'", m.name), [&] { return parseModelStatement(m); });
    return m;
  }

  // mstmt := 'input' SHAPE | 'classes' INT | stage
  bool parseModelStatement(Model& m) {
    bool declaration = cur().is(Tok::Ident) && !ahead(1).is(Tok::Colon) && !ahead(1).is(Tok::LParen) &&
                       !ahead(1).is(Tok::Arrow);
    if (declaration && cur().text == "input") {
      InputDecl in{take().loc, {}};
      if (!cur().is(Tok::Shape) && !cur().is(Tok::Int)) {
        error(cur(), fmt::format("expected a shape like 1x28x28 after 'input', found {}", cur().describe()));
        return false;
      }
      if (!parseValue(in.shape)) return false;
      m.inputs.push_back(in);
      return true;
    }
    if (declaration && cur().text == "classes") {
      ClassesDecl c{take().loc, {}};
      if (!cur().is(Tok::Int)) {
        error(cur(), fmt::format("expected an integer after 'classes', found {}", cur().describe()));
        return false;
      }
      if (!parseValue(c.count)) return false;
      m.classes.push_back(c);
      return true;
    }
    Stage stage;
    if (!parseStage(stage)) return false;
    m.stages.push_back(std::move(stage));
    return true;
  }

  // stage := [ IDENT ':' ] layer { '->' layer }
  bool parseStage(Stage& stage) {
    stage.loc = cur().loc;
    if (cur().is(Tok::Ident) && ahead(1).is(Tok::Colon)) {
      stage.name = take().text;
      take();
    }
    for (;;) {
      Layer layer;
      if (!parseLayer(layer)) return false;
      stage.layers.push_back(std::move(layer));
      // A stage may continue on the next line before a leading '->'.
      if (cur().is(Tok::Newline) && ahead(1).is(Tok::Arrow)) take();
      if (!cur().is(Tok::Arrow)) return true;
      take();
      skipNewlines();  // or after a trailing one
    }
  }

  // layer := IDENT [ '(' [ arg { ',' arg } ] ')' ]
  bool parseLayer(Layer& layer) {
    if (!cur().is(Tok::Ident)) {
      error(cur(), fmt::format("expected a layer name, found {}", cur().describe()));
      return false;
    }
    layer.loc = cur().loc;
    layer.name = take().text;
    if (!cur().is(Tok::LParen)) return true;
    layer.hasParens = true;
    return parseArgs(layer.args, fmt::format("'{}'", layer.name));
  }

  // '(' [ arg { ',' arg } ] ')'; newlines are allowed inside.
  bool parseArgs(std::vector<Arg>& args, const std::string& owner) {
    take();  // '('
    skipNewlines();
    if (cur().is(Tok::RParen)) {
      take();
      return true;
    }
    for (;;) {
      Arg arg;
      if (!parseArg(arg)) return false;
      args.push_back(std::move(arg));
      skipNewlines();
      if (cur().is(Tok::RParen)) {
        take();
        return true;
      }
      if (!cur().is(Tok::Comma)) {
        error(cur(), fmt::format("expected ',' or ')' in the arguments of {}, found {}", owner, cur().describe()));
        return false;
      }
      take();
      skipNewlines();
    }
  }

  // arg := [ IDENT '=' ] value
  bool parseArg(Arg& arg) {
    arg.loc = cur().loc;
    if (cur().is(Tok::Ident) && ahead(1).is(Tok::Equal)) {
      arg.name = take().text;
      take();
    }
    return parseValue(arg.value);
  }

  // value := INT | FLOAT | IDENT | SHAPE | 'true' | 'false' | list
  bool parseValue(Value& v) {
    const Token& t = cur();
    v.loc = t.loc;
    v.text = t.text;
    switch (t.kind) {
      case Tok::LBracket: return parseList(v);
      case Tok::Int: v.kind = Value::Kind::Int; v.intValue = t.intValue; break;
      case Tok::Float: v.kind = Value::Kind::Float; v.floatValue = t.floatValue; break;
      case Tok::Shape: v.kind = Value::Kind::Shape; v.dims = t.dims; break;
      case Tok::Ident: v.kind = Value::Kind::Ident; v.ident = t.text; break;
      case Tok::KwTrue: v.kind = Value::Kind::Bool; v.boolValue = true; break;
      case Tok::KwFalse: v.kind = Value::Kind::Bool; v.boolValue = false; break;
      default:
        error(t, fmt::format("expected a value, found {}", t.describe()));
        return false;
    }
    take();
    return true;
  }

  // list := '[' value { ',' value } ']'; newlines are allowed inside. Its
  // text is the items' spellings joined: `[0.49, 0.48, 0.45]`.
  bool parseList(Value& v) {
    v.kind = Value::Kind::List;
    take();  // '['
    skipNewlines();
    for (;;) {
      Value item;
      if (!parseValue(item)) return false;
      v.items.push_back(std::move(item));
      skipNewlines();
      if (cur().is(Tok::RBracket)) break;
      if (!cur().is(Tok::Comma)) {
        error(cur(), fmt::format("expected ',' or ']' in a list, found {}", cur().describe()));
        return false;
      }
      take();
      skipNewlines();
    }
    take();  // ']'
    v.text = "[";
    for (size_t i = 0; i < v.items.size(); ++i) v.text += (i ? ", " : "") + v.items[i].text;
    v.text += "]";
    return true;
  }

  // train := 'train' '{' { tstmt NL } '}'
  TrainBlock parseTrain() {
    TrainBlock block;
    block.loc = take().loc;
    parseBlock("the train block", [&] { return parseTrainStatement(block); });
    return block;
  }

  // tstmt := IDENT value | IDENT IDENT '(' [ arg { ',' arg } ] ')'
  //        | IDENT '(' [ arg { ',' arg } ] ')'
  bool parseTrainStatement(TrainBlock& block) {
    if (!cur().is(Tok::Ident)) {
      error(cur(), fmt::format("expected a setting name, found {}", cur().describe()));
      return false;
    }
    Setting s;
    s.loc = cur().loc;
    s.name = take().text;
    if (cur().is(Tok::Newline) || cur().is(Tok::RBrace) || cur().is(Tok::Eof)) {
      error(cur(), fmt::format("expected a value for '{}', found {}", s.name, cur().describe()));
      return false;
    }
    if (cur().is(Tok::LParen)) {  // normalize(mean=..., std=...): the setting is the call
      s.value.kind = Value::Kind::Ident;
      s.value.loc = s.loc;
      s.value.ident = s.value.text = s.name;
      s.isCall = true;
      if (!parseArgs(s.args, fmt::format("'{}'", s.name))) return false;
      block.settings.push_back(std::move(s));
      return true;
    }
    if (!parseValue(s.value)) return false;
    if (s.value.kind == Value::Kind::Ident && cur().is(Tok::LParen)) {
      s.isCall = true;
      if (!parseArgs(s.args, fmt::format("'{}'", s.value.ident))) return false;
    }
    block.settings.push_back(std::move(s));
    return true;
  }

  SourceFile& file_;
  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
};

}  // namespace

File parse(SourceFile& file, const std::vector<Token>& tokens) { return Parser(file, tokens).parseFile(); }

}  // namespace cnnc
