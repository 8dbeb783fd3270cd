#include "ops/Winograd.h"

#include "fuse/Winograd.h"
#include "ops/Common.h"

namespace cnnc {

using namespace Halide;
using namespace loopvars;

namespace {

Var xi{"xi"}, nu{"nu"}, t{"t"}, q{"q"};

// sum_k row[k] term(k) over the nonzero coefficients (+-1 as adds).
Expr combination(const std::vector<double>& row, const std::function<Expr(int)>& term) {
  Expr sum;
  for (size_t k = 0; k < row.size(); ++k) {
    const double coefficient = row[k];
    if (coefficient == 0.0) continue;
    Expr e = term(static_cast<int>(k));
    if (coefficient == -1.0) {
      sum = sum.defined() ? sum - e : -e;
      continue;
    }
    if (coefficient != 1.0) e = static_cast<float>(coefficient) * e;
    sum = sum.defined() ? sum + e : e;
  }
  return sum.defined() ? sum : Expr(0.0f);
}

// Row `index` of `matrix` applied to term: a mux of one combination per
// row; the schedules unroll `index`, so each is a constant combination.
Expr rowOf(const Matrix& matrix, Expr index, const std::function<Expr(int)>& term) {
  std::vector<Expr> rows;
  for (const std::vector<double>& row : matrix) rows.push_back(combination(row, term));
  return rows.size() == 1 ? rows[0] : mux(index, rows);
}

// matrix . d . matrix^T for each tile and channel, from read(p, q), the
// tile's element (p, q) (p along x), as two passes of one dimension each:
// rows (c, xi, q, t, n), then the result (c, xi, nu, t, n).
void separable(Func& rows, Func& out, const Matrix& matrix, const std::function<Expr(int, Expr)>& read) {
  rows(c, xi, q, t, n) = rowOf(matrix, xi, [&](int p) { return read(p, q); });
  out(c, xi, nu, t, n) = rowOf(matrix, nu, [&](int k) { return rows(c, xi, k, t, n); });
}

struct Tiling {
  WinogradMatrices w;
  int tilesX = 0, tilesY = 0;
  Expr originX(Expr tile) const { return (tile % tilesX) * w.m; }  // in the forward's output
  Expr originY(Expr tile) const { return (tile / tilesX) * w.m; }
};

// Tiles of m x m over the forward's output (its W x H: ow, oh).
Tiling tiling(int m, int r, int ow, int oh) {
  Tiling s{winogradMatrices(m, r)};
  s.tilesX = (ow + m - 1) / m;
  s.tilesY = (oh + m - 1) / m;
  return s;
}

// V = B^T d B of x's windows: tile t reads x from (originX - PX, originY - PY).
void inputTransform(WinogradStages& s, const Tiling& tl, Func xPad, const ops::Window& k, const std::string& name) {
  s.xRows = Func(name + "_wg_x_rows");
  s.x = Func(name + "_wg_x");
  separable(s.xRows, s.x, tl.w.BT, [&](int p, Expr qq) {
    return xPad(c, tl.originX(t) - k.PX + p, tl.originY(t) - k.PY + qq, n);
  });
}

// D = A dY A^T of dy's tiles (dy zero past the output's edge).
void dyTransform(WinogradStages& s, const Tiling& tl, Func dyPad, const std::string& name) {
  s.dyRows = Func(name + "_wg_dy_rows");
  s.dy = Func(name + "_wg_dy");
  separable(s.dyRows, s.dy, transposed(tl.w.AT), [&](int p, Expr qq) {
    return dyPad(c, tl.originX(t) + p, tl.originY(t) + qq, n);
  });
}

// U = G g G^T once per call, (o, i, xi, nu) from the kernel's taps
// weightAt(o, i, kx, ky), and the GEMM at each position: product (o, xi,
// nu, t, n) = sum over the `reduced` channels i of U (o, i, ...) times
// `transformed` (i, xi, nu, t, n). The forward's o is co, the data
// gradient's ci (its U transposed).
void kernelProduct(WinogradStages& s, const Tiling& tl, Var o, Var i,
                   const std::function<Expr(Expr, Expr, int, Expr)>& weightAt, Func transformed, int reduced,
                   const std::string& name) {
  s.weightRows = Func(name + "_wg_weight_rows");
  s.weight = Func(name + "_wg_weight");
  s.weightRows(o, xi, ky, i) = rowOf(tl.w.G, xi, [&](int p) { return weightAt(o, i, p, ky); });
  s.weight(o, i, xi, nu) = rowOf(tl.w.G, nu, [&](int p) { return s.weightRows(o, xi, p, i); });
  RDom r(0, reduced, name + "_wg_r");
  s.productAcc = Func(name + "_wg_product_acc");
  s.productAcc(o, xi, nu, t, n) = 0.0f;
  s.productAcc(o, xi, nu, t, n) += s.weight(o, r, xi, nu) * transformed(r, xi, nu, t, n);
  s.product = Func(name + "_wg_product");
  s.product(o, xi, nu, t, n) = s.productAcc(o, xi, nu, t, n);
}

}  // namespace

LoweredOp& lowerWinogradForward(LowerContext& cx, const Op& op, Func wT, Expr bias, int m) {
  const std::string name = cx.name(op);
  const ops::Window k = ops::windowOf(op.attrs);
  const Dims d = cx.dims(op.operands[0]), o = cx.dims(op.result);
  const Tiling tl = tiling(m, k.KW, o.W, o.H);
  WinogradStages s;
  s.m = m;
  s.tiles = tl.tilesX * tl.tilesY;
  s.tilesX = tl.tilesX;
  Func in = cx.zeroPadded(cx.func(op.operands[0]), d, name + "_padded");
  inputTransform(s, tl, in, k, name);
  // U (co, ci, xi, nu), from wT (co, kx, ky, ci).
  kernelProduct(s, tl, co, ci, [&](Expr o, Expr i, int kk, Expr yy) { return wT(o, kk, yy, i); }, s.x, d.C, name);
  // y = A^T M A per tile: A^T along x into rows, then each output from
  // its tile's rows (the schedule unrolls x % m and y % m, so each output
  // is one constant combination; no tile of results in between).
  s.backRows = Func(name + "_wg_y_rows");
  s.backRows(c, xi, q, t, n) = rowOf(tl.w.AT, xi, [&](int p) { return s.product(c, p, q, t, n); });
  Func out(name);
  Expr tile = x / m + tl.tilesX * (y / m);
  out(co, x, y, n) = rowOf(tl.w.AT, y % m, [&](int kk) { return s.backRows(co, x % m, kk, tile, n); }) + bias;
  LoweredOp& l = cx.add(op, out);
  l.staged = in;
  l.weightT = wT;
  l.winograd = s;
  return l;
}

LoweredOp& lowerWinogradData(LowerContext& cx, const Op& op, Func wT, int m) {
  const std::string name = cx.name(op);
  const ops::Window k = ops::windowOf(op.attrs);
  const Dims dy = cx.dims(op.operands[0]);
  const Tiling tl = tiling(m, k.KW, dy.W, dy.H);
  WinogradStages s;
  s.m = m;
  s.tiles = tl.tilesX * tl.tilesY;
  Func dyPad = cx.zeroPadded(cx.func(op.operands[0]), dy, name + "_dy_padded");
  dyTransform(s, tl, dyPad, name);
  // U transposed: (ci, co, xi, nu), from the weight re-laid input
  // channels innermost, wT (ci, kx, ky, co): read in place (kx, ky, ci, co)
  // each of U's rows gathered its vector of input channels 25 floats
  // apart, 5 times over (conv3's U took 0.094 ms of its 0.53).
  kernelProduct(s, tl, ci, co, [&](Expr o, Expr i, int kk, Expr yy) { return wT(o, kk, yy, i); }, s.dy, dy.C, name);
  // B dV B^T: each tile's gradient of its alpha x alpha input window.
  s.backRows = Func(name + "_wg_dx_rows");
  s.back = Func(name + "_wg_dx");
  separable(s.backRows, s.back, transposed(tl.w.BT), [&](int p, Expr qq) { return s.product(c, p, qq, t, n); });
  // Each input pixel sums its element of every window that holds it:
  // tile tx holds X = x + PX at X - m tx, for the ceil(alpha / m) tiles
  // tx = X / m - j that reach it (and exist).
  const int reach = (tl.w.alpha + m - 1) / m;
  Expr X = x + k.PX, Y = y + k.PY;
  Expr sum = 0.0f;
  for (int jy = 0; jy < reach; ++jy)
    for (int jx = 0; jx < reach; ++jx) {
      Expr tx = X / m - jx, ty = Y / m - jy, lx = X % m + jx * m, ly = Y % m + jy * m;
      Expr inside = tx >= 0 && tx < tl.tilesX && ty >= 0 && ty < tl.tilesY && lx < tl.w.alpha && ly < tl.w.alpha;
      Expr tile = clamp(tx, 0, tl.tilesX - 1) + tl.tilesX * clamp(ty, 0, tl.tilesY - 1);
      sum += select(inside, s.back(ci, min(lx, tl.w.alpha - 1), min(ly, tl.w.alpha - 1), tile, n), 0.0f);
    }
  Func out(name);
  out(ci, x, y, n) = sum;
  LoweredOp& l = cx.add(op, out);
  l.staged = dyPad;
  l.weightT = wT;
  l.winograd = s;
  return l;
}

LoweredOp& lowerWinogradWeight(LowerContext& cx, const Op& op, int m) {
  const std::string name = cx.name(op);
  const ops::Window k = ops::windowOf(op.attrs);
  const Dims dy = cx.dims(op.operands[0]), d = cx.dims(op.operands[1]);
  const Tiling tl = tiling(m, k.KW, dy.W, dy.H);
  WinogradStages s;
  s.m = m;
  s.tiles = tl.tilesX * tl.tilesY;
  Func dyPad = cx.zeroPadded(cx.func(op.operands[0]), dy, name + "_dy_padded");
  Func in = cx.zeroPadded(cx.func(op.operands[1]), d, name + "_padded");
  dyTransform(s, tl, dyPad, name);
  inputTransform(s, tl, in, k, name);
  // dU per chunk of S samples, over its tiles (a register tile at a
  // time); each partial sums its chunks in order, in place, while the
  // chunk's transforms are in cache; then the partials in order. One
  // partial per chunk (8 of 512 KB for mnist's conv3) went through L3.
  const int S = samplesPerChunk(dy.N);
  const int chunks = dy.N / S, partials = weightGradientPartials(chunks), perPartial = chunks / partials;
  RDom r(0, s.tiles, 0, S, name + "_wg_r");
  Expr sample = n * S + r.y;  // n: the chunk
  s.partialAcc = Func(name + "_wg_per_chunk_acc");
  s.partialAcc(co, ci, xi, nu, n) = 0.0f;
  s.partialAcc(co, ci, xi, nu, n) += s.dy(co, xi, nu, r.x, sample) * s.x(ci, xi, nu, r.x, sample);
  RDom own(0, perPartial, name + "_wg_own_chunks");
  s.partial = Func(name + "_wg_partial");
  s.partial(co, ci, xi, nu, n) = 0.0f;  // n: the partial
  s.partial(co, ci, xi, nu, n) += s.partialAcc(co, ci, xi, nu, n * perPartial + own);
  RDom each(0, partials, name + "_partials");
  s.productAcc = Func(name + "_wg_product_acc");
  s.productAcc(co, ci, xi, nu) = 0.0f;
  s.productAcc(co, ci, xi, nu) += s.partial(co, ci, xi, nu, each);
  s.product = Func(name + "_wg_product");
  s.product(co, ci, xi, nu) = s.productAcc(co, ci, xi, nu);
  // dw = G^T dU G.
  const Matrix GT = transposed(tl.w.G);
  s.backRows = Func(name + "_wg_dw_rows");
  s.back = Func(name + "_wg_dw");
  s.backRows(co, ci, kx, nu) = rowOf(GT, kx, [&](int p) { return s.product(co, ci, p, nu); });
  s.back(co, ci, kx, ky) = rowOf(GT, ky, [&](int p) { return s.backRows(co, ci, kx, p); });
  Func out(name);
  out(kx, ky, ci, co) = s.back(co, ci, kx, ky);
  LoweredOp& l = cx.add(op, out);
  l.staged = in;
  l.stagedDy = dyPad;
  l.winograd = s;
  return l;
}

}  // namespace cnnc
