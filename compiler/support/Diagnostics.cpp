#include "support/Diagnostics.h"
#include "support/Invariant.h"

#include <fmt/format.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace cnnc {

namespace {
// A .cnn file is a page of text; anything this large is a mistake, and
// refusing it up front keeps the lexer's offsets in 32 bits.
constexpr size_t kMaxSourceBytes = 1 << 20;

// Returns a description of the first byte that cannot appear in a .cnn
// file (control characters other than tab/newline/CR), or "" if all is text.
std::string findBinaryByte(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
      return fmt::format("byte 0x{:02x} at offset {}", c, i);
    if (c == 0x7f) return fmt::format("byte 0x7f at offset {}", i);
  }
  return "";
}
}  // namespace

SourceFile::SourceFile(std::string name, std::string text)
    : name_(std::move(name)), mgr_(std::make_unique<llvm::SourceMgr>()) {
  buffer_ = mgr_->AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, name_), llvm::SMLoc());
}

SourceFile::~SourceFile() { flush(); }

std::unique_ptr<SourceFile> SourceFile::open(const std::string& path) {
  auto fail = [&](const std::string& why) {
    llvm::errs() << path << ": error: " << why << "\n";
    return nullptr;
  };
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer) return fail(fmt::format("cannot read file: {}", buffer.getError().message()));
  std::string text = (*buffer)->getBuffer().str();
  if (text.size() > kMaxSourceBytes)
    return fail(fmt::format("file is too large for a model description ({} bytes; the limit is {} bytes)",
                            text.size(), kMaxSourceBytes));
  std::string binary = findBinaryByte(text);
  if (!binary.empty()) return fail(fmt::format("file is not text: found {}", binary));
  return std::unique_ptr<SourceFile>(new SourceFile(path, std::move(text)));
}

std::unique_ptr<SourceFile> SourceFile::fromText(const std::string& name, const std::string& text) {
  return std::unique_ptr<SourceFile>(new SourceFile(name, text));
}

const char* SourceFile::begin() const { return mgr_->getMemoryBuffer(buffer_)->getBufferStart(); }
const char* SourceFile::end() const { return mgr_->getMemoryBuffer(buffer_)->getBufferEnd(); }

std::string SourceFile::render(Loc loc, int kind, const std::string& message) {
  std::string text;
  llvm::raw_string_ostream os(text);
  auto smKind = static_cast<llvm::SourceMgr::DiagKind>(kind);
  // A line too long to read (a file of one huge line) is shown as a window
  // around the column, marked with "...".
  const char* lineStart = loc.valid() ? begin() + loc.offset - (loc.col - 1) : nullptr;
  const char* lineEnd = lineStart ? std::find(lineStart, end(), '\n') : nullptr;
  constexpr long kShown = 160;
  if (loc.valid() && lineEnd - lineStart > kShown) {
    long from = std::max<long>(0, long(loc.col) - 1 - kShown / 2);
    long to = std::min<long>(lineEnd - lineStart, from + kShown);
    std::string shown = (from > 0 ? "..." : "") + std::string(lineStart + from, lineStart + to) +
                        (lineStart + to < lineEnd ? "..." : "");
    long caret = long(loc.col) - 1 - from + (from > 0 ? 3 : 0);
    os << fmt::format("{}:{}:{}: {}: {}\n{}\n{}^\n", name_, loc.line, loc.col,
                      kind == llvm::SourceMgr::DK_Note      ? "note"
                      : kind == llvm::SourceMgr::DK_Warning ? "warning"
                                                            : "error",
                      message, shown, std::string(caret, ' '));
  } else if (loc.valid()) {
    mgr_->PrintMessage(os, llvm::SMLoc::getFromPointer(begin() + loc.offset), smKind, message);
  } else {
    os << name_ << ": " << (kind == llvm::SourceMgr::DK_Note ? "note: " : "error: ") << message << "\n";
  }
  os.flush();
  return text;
}

void SourceFile::error(Loc loc, const std::string& message) {
  ++errors_;
  pending_.push_back({loc.offset, render(loc, llvm::SourceMgr::DK_Error, message)});
}

void SourceFile::warning(Loc loc, const std::string& message) {
  pending_.push_back({loc.offset, render(loc, llvm::SourceMgr::DK_Warning, message)});
}

void SourceFile::note(Loc loc, const std::string& message) {
  std::string text = render(loc, llvm::SourceMgr::DK_Note, message);
  if (pending_.empty())
    pending_.push_back({loc.offset, text});
  else
    pending_.back().text += text;
}

void SourceFile::fileError(const std::string& message) {
  ++errors_;
  pending_.push_back({0, render(Loc{}, llvm::SourceMgr::DK_Error, message)});
}

void SourceFile::flush() {
  // Stages report in their own order (lexer, parser, checker); the user
  // reads the file top to bottom.
  std::stable_sort(pending_.begin(), pending_.end(),
                   [](const Message& a, const Message& b) { return a.offset < b.offset; });
  for (const Message& m : pending_) {
    if (sink_)
      *sink_ += m.text;
    else
      llvm::errs() << m.text;
  }
  pending_.clear();
}

std::string SourceFile::describe(Loc loc) const { return fmt::format("{}:{}:{}", name_, loc.line, loc.col); }

}  // namespace cnnc

namespace cnnc {

void internalError(const std::string& what) {
  fmt::print(stderr, "cnnc: internal error: {} (a bug in cnnc; please report it with the .cnn file)\n", what);
  std::fflush(stderr);
  std::abort();
}

}  // namespace cnnc
