// A program outside the stai tree that uses the installed package.
#include <cmath>
#include <iostream>

#include <stai/stai.hpp>

int main() {
  stai::Cpu be;
  stai::Context<stai::Cpu> ctx{be};
  stai::ParamArena<stai::Cpu, float> arena;
  stai::Linear<stai::Cpu, float> lin(3, 2);
  lin.declare(arena, "lin");
  arena.allocate(be);
  lin.bind(arena);
  stai::Rng rng(8848);
  arena.initialize(be, rng);
  stai::RowMatrix<float> x = stai::RowMatrix<float>::Ones(4, 3), y(4, 2);
  lin.forward(ctx, stai::cref(x), stai::ref(y));
  if (!std::isfinite(y.sum())) return 1;
  std::cout << "stai consumer ok (stai " << stai::version() << ", y00 = " << y(0, 0) << ")\n";
  return 0;
}
