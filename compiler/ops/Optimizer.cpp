// The optimizer steps, each one op over every parameter at once (in place);
// lowered by lowerUpdate (lower/Lower.h) over the flat arenas.
#include "ops/Common.h"

namespace cnnc {

std::vector<OpInfo> optimizerOps() {
  OpInfo sgd{OpKind::SgdUpdate, "sgd_update"};
  sgd.fuse = FuseAs::Update;
  OpInfo adam{OpKind::AdamUpdate, "adam_update"};
  adam.fuse = FuseAs::Update;
  return {sgd, adam};
}

}  // namespace cnnc
