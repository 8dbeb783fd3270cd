// cnnc's version, printed by --version and recorded in every trainer.
#pragma once

namespace cnnc {
constexpr const char* kVersion = "0.2.0";
}
