// stai — the layer contract, as a C++20 concept (what Sequential composes).
// The conventions behind it (who writes and who accumulates): see
// layers/linear.hpp.
#pragma once
#include <concepts>
#include <string>

#include "../context.hpp"
#include "../tensor/matrix.hpp"
#include "../tensor/param_arena.hpp"

namespace stai {

/// L is a layer on backend B with scalar T: it declares and binds its
/// parameters in a ParamArena, says its output width for an input width,
/// writes y = f(x) in forward, and in backward accumulates its parameter
/// gradients and writes (or, with Grad::Accumulate, adds) dx.
template <class L, class B, class T>
concept Layer = requires(L& l, const L& cl, ParamArena<B, T>& arena, const std::string& prefix,
                         Context<B>& ctx, CMatRef<T> x, MatRef<T> y, Grad mode) {
  l.declare(arena, prefix);
  l.bind(arena);
  { cl.out_cols(index_t{}) } -> std::convertible_to<index_t>;
  l.forward(ctx, x, y);
  l.backward(ctx, x, x, x, y, mode);  // (x, y, dy, dx, mode)
};

}  // namespace stai
