// Source locations and located diagnostics.
//
// Every token, AST node and IR op carries a Loc. Diagnostics print through
// llvm::SourceMgr, so every message reads `file:line:col: error: ...`,
// followed by the source line and a caret under the column.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llvm {
class SourceMgr;
}

namespace cnnc {

// A position in the source file: 1-based line and column, 0-based offset.
struct Loc {
  uint32_t line = 0;
  uint32_t col = 0;
  uint32_t offset = 0;

  bool valid() const { return line != 0; }
};

// One source file and the diagnostics reported against it.
class SourceFile {
 public:
  // Reads `path`; on failure prints `path: error: ...` and returns nullptr.
  static std::unique_ptr<SourceFile> open(const std::string& path);
  // Wraps text held in memory (tests); `name` is what messages print.
  static std::unique_ptr<SourceFile> fromText(const std::string& name, const std::string& text);
  ~SourceFile();

  const std::string& name() const { return name_; }
  const char* begin() const;
  const char* end() const;

  // `file:line:col: error: message`, the source line and a caret.
  void error(Loc loc, const std::string& message);
  // `file:line:col: warning: message`: printed as errors are, but not
  // counted (the exit status stays 0).
  void warning(Loc loc, const std::string& message);
  // `file:line:col: note: message`, attached to the previous error.
  void note(Loc loc, const std::string& message);
  // An error about the file as a whole (no line to point at).
  void fileError(const std::string& message);

  unsigned errorCount() const { return errors_; }
  // Prints the messages reported so far in source order (each error with
  // its notes), to stderr or to the sink a test set. The destructor
  // flushes too.
  void flush();
  void captureMessages(std::string* sink) { sink_ = sink; }

  // `file:line:col`, as printed in IR dumps.
  std::string describe(Loc loc) const;

 private:
  SourceFile(std::string name, std::string text);
  std::string render(Loc loc, int kind, const std::string& message);

  // An error and the notes that follow it, kept together when sorting.
  struct Message {
    uint32_t offset;
    std::string text;
  };
  std::vector<Message> pending_;

  std::string name_;
  std::unique_ptr<llvm::SourceMgr> mgr_;
  unsigned buffer_ = 0;
  unsigned errors_ = 0;
  std::string* sink_ = nullptr;
};

}  // namespace cnnc
