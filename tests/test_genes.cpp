// Gene matching: exact names in spatial order, case-insensitive fallback only
// when it adds matches, duplicates, errors with examples.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <stai/data/genes.hpp>

using namespace stai;
using V = std::vector<std::string>;
using I = std::vector<index_t>;

namespace {
bool any_contains(const V& v, const std::string& s) {
  for (const auto& x : v)
    if (x.find(s) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("match_genes: exact names, spatial order, both indices, dropped lists") {
  const V st{"Sox10", "Gad2", "Aldoc", "Xist", "Pdgfra"};
  const V sc{"Pdgfra", "Aldoc", "Mbp", "Sox10", "Foo", "Gad2"};
  const GeneMatch m = match_genes(st, sc);
  CHECK(m.genes == V{"Sox10", "Gad2", "Aldoc", "Pdgfra"});
  CHECK(m.spatial_index == I{0, 1, 2, 4});
  CHECK(m.reference_index == I{3, 5, 1, 0});
  CHECK(m.dropped_spatial == V{"Xist"});
  CHECK(m.dropped_reference == V{"Mbp", "Foo"});
  CHECK(m.case_insensitive.empty());
  CHECK(m.warnings.empty());
  CHECK(m.size() == 4);
  CHECK(m.report().find("4 shared genes") != std::string::npos);
  CHECK(m.report().find("'Xist'") != std::string::npos);
}

TEST_CASE("match_genes: case-insensitive fallback") {
  SUBCASE("used when it adds matches, and reported") {
    const V st{"Gad1", "Sox10", "Mbp"};
    const V sc{"GAD1", "Sox10", "MBP", "Other"};
    const GeneMatch m = match_genes(st, sc);
    CHECK(m.genes == V{"Gad1", "Sox10", "Mbp"});
    CHECK(m.reference_index == I{0, 1, 2});
    REQUIRE(m.case_insensitive.size() == 2);
    CHECK(m.case_insensitive[0] == std::make_pair(std::string("Gad1"), std::string("GAD1")));
    CHECK(any_contains(m.notes, "Gad1 = GAD1"));
    CHECK(m.dropped_reference == V{"Other"});
  }
  SUBCASE("not used when exact matching already matches everything it could") {
    const V st{"Gad1", "Sox10"};
    const V sc{"Gad1", "GAD1", "Sox10"};  // GAD1 is a second reference gene, not a match
    const GeneMatch m = match_genes(st, sc);
    CHECK(m.genes == V{"Gad1", "Sox10"});
    CHECK(m.reference_index == I{0, 2});
    CHECK(m.case_insensitive.empty());
    CHECK_FALSE(any_contains(m.notes, "ignoring case"));
  }
  SUBCASE("disabled by option") {
    GeneMatchOptions o;
    o.case_insensitive_fallback = false;
    const GeneMatch m = match_genes({"Gad1", "Sox10", "Mbp"}, {"GAD1", "Sox10", "Mbp"}, o);
    CHECK(m.genes == V{"Sox10", "Mbp"});
    CHECK(m.dropped_spatial == V{"Gad1"});
    CHECK(m.dropped_reference == V{"GAD1"});
  }
  SUBCASE("ambiguous lower-case names are left unmatched with a warning") {
    const V st{"Gad1", "Sox10", "Mbp"};
    const V sc{"GAD1", "gad1", "Sox10", "Mbp"};
    const GeneMatch m = match_genes(st, sc);
    CHECK(m.genes == V{"Sox10", "Mbp"});
    CHECK(any_contains(m.warnings, "ambiguous"));
    CHECK(any_contains(m.warnings, "Gad1 ~ {GAD1, gad1}"));
  }
}

TEST_CASE("match_genes: duplicated names keep the first occurrence, with a warning") {
  const V st{"A", "B", "A", "C"};
  const V sc{"C", "B", "B", "A"};
  const GeneMatch m = match_genes(st, sc);
  CHECK(m.genes == V{"A", "B", "C"});
  CHECK(m.spatial_index == I{0, 1, 3});
  CHECK(m.reference_index == I{3, 1, 0});
  CHECK(m.dropped_spatial == V{"A"});
  CHECK(m.dropped_reference == V{"B"});
  REQUIRE(m.warnings.size() == 2);
  CHECK(any_contains(m.warnings, "A (column 2, first at column 0)"));
  CHECK(any_contains(m.warnings, "B (column 2, first at column 1)"));
}

TEST_CASE("match_genes: too few shared genes is an error with examples") {
  GeneMatchOptions o;
  o.spatial_label = "st.h5ad";
  o.reference_label = "sc.h5ad";
  SUBCASE("no overlap") {
    CHECK_THROWS_WITH_AS(match_genes({"Gad1", "Sox10"}, {"Xist", "Mbp"}, o),
                         doctest::Contains("only 0 gene(s) are shared between the st.h5ad (2 genes)"),
                         Error);
    CHECK_THROWS_WITH_AS(match_genes({"Gad1", "Sox10"}, {"Xist", "Mbp"}, o),
                         doctest::Contains("First genes of the sc.h5ad: 'Xist', 'Mbp'"), Error);
  }
  SUBCASE("Ensembl IDs on one side get a hint") {
    CHECK_THROWS_WITH_AS(
        match_genes({"Gad1", "Sox10", "Mbp"}, {"ENSMUSG00000070880", "ENSMUSG00000100826"}, o),
        doctest::Contains("Ensembl IDs"), Error);
  }
  SUBCASE("minimum is an option") {
    o.min_shared = 3;
    CHECK_THROWS_WITH_AS(match_genes({"A", "B", "C"}, {"A", "B"}, o),
                         doctest::Contains("at least 3"), Error);
    o.min_shared = 2;
    CHECK(match_genes({"A", "B", "C"}, {"A", "B"}, o).size() == 2);
  }
  SUBCASE("empty sides") {
    CHECK_THROWS_AS(match_genes({}, {"A"}), Error);
    CHECK_THROWS_AS(match_genes({"A"}, {}), Error);
  }
}

TEST_CASE("match_genes: low overlap warns") {
  const GeneMatch m = match_genes({"A", "B", "C", "D", "E"}, {"A", "B"});
  CHECK(any_contains(m.warnings, "only 2 of the 5"));
}
