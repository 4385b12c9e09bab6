// The gene folds reproduce scikit-learn's KFold(shuffle=True,
// random_state=np.random.RandomState(seed)); expected values were produced by
//   rs = np.random.RandomState(8848)
//   [te for tr, te in KFold(5, shuffle=True, random_state=rs).split(np.arange(32))]
//   [te for tr, te in KFold(5, shuffle=True, random_state=rs).split(np.arange(10))]
// (the same RandomState object reused, as in the reference's leave-one-out).
#include <doctest/doctest.h>

#include <stai/model/folds.hpp>

using namespace stai;

TEST_CASE("k-fold gene split matches scikit-learn number for number") {
  NumpyRandomState rs(8848);
  const auto f = kfold_split(32, 5, rs);
  REQUIRE(f.size() == 5);
  CHECK(f[0].calibration == std::vector<index_t>{6, 7, 8, 11, 12, 18, 27});
  CHECK(f[1].calibration == std::vector<index_t>{0, 2, 5, 9, 14, 22, 28});
  CHECK(f[2].calibration == std::vector<index_t>{1, 17, 19, 23, 25, 29});
  CHECK(f[3].calibration == std::vector<index_t>{3, 10, 15, 16, 24, 30});
  CHECK(f[4].calibration == std::vector<index_t>{4, 13, 20, 21, 26, 31});
  CHECK(f[0].fit.size() == 25);
  const auto g = kfold_split(10, 5, rs);
  CHECK(g[0].calibration == std::vector<index_t>{5, 9});
  CHECK(g[4].calibration == std::vector<index_t>{0, 4});
  // every gene is a calibration gene exactly once; fit = complement
  std::vector<int> seen(32, 0);
  for (const auto& fo : f) {
    for (auto i : fo.calibration) ++seen[i];
    CHECK(fo.fit.size() + fo.calibration.size() == 32);
  }
  for (int s : seen) CHECK(s == 1);
}

TEST_CASE("numpy legacy shuffle") {
  // rs = np.random.RandomState(1); a = np.arange(7); rs.shuffle(a)
  NumpyRandomState rs(1);
  std::vector<int> a{0, 1, 2, 3, 4, 5, 6};
  rs.shuffle(a);
  CHECK(a == std::vector<int>{6, 2, 1, 0, 4, 3, 5});
}

TEST_CASE("k-fold errors") {
  NumpyRandomState rs(1);
  CHECK_THROWS_AS(kfold_split(3, 5, rs), Error);
  CHECK_THROWS_AS(kfold_split(10, 1, rs), Error);
}
