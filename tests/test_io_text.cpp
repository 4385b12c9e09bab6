// Tests for CSV/TSV tables, joins of coordinates and labels, and atomic CSV output.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stai/io/text.hpp>

using namespace stai;
namespace fs = std::filesystem;

namespace {

std::string text_tmp(const std::string& name) {
  // One scratch directory per test run, removed at exit.
  struct Dir {
    fs::path p = fs::temp_directory_path() / ("stai_test_io_text_" + std::to_string(::getpid()));
    Dir() { fs::create_directories(p); }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  };
  static const Dir dir;
  return (dir.p / name).string();
}

std::string put(const std::string& name, const std::string& content) {
  const std::string p = text_tmp(name);
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

}  // namespace

TEST_CASE("text: CSV parser handles quotes, line ends and blank lines") {
  CsvParser p("a,\"b,c\",\"d\"\"e\"\r\n\n\"multi\nline\",x,\r\nlast,1,2", ',', "mem");
  std::vector<std::string> f;
  REQUIRE(p.next(f));
  CHECK(f == std::vector<std::string>{"a", "b,c", "d\"e"});
  CHECK(p.line() == 1);
  REQUIRE(p.next(f));
  CHECK(f == std::vector<std::string>{"multi\nline", "x", ""});
  CHECK(p.line() == 3);
  REQUIRE(p.next(f));
  CHECK(f == std::vector<std::string>{"last", "1", "2"});
  CHECK(p.line() == 5);
  CHECK_FALSE(p.next(f));

  SUBCASE("whitespace-separated") {
    CsvParser w("  a   b\t\"c d\"\n1 2 3\n", ' ', "mem");
    REQUIRE(w.next(f));
    CHECK(f == std::vector<std::string>{"a", "b", "c d"});
    REQUIRE(w.next(f));
    CHECK(f == std::vector<std::string>{"1", "2", "3"});
  }
  SUBCASE("unclosed quote") {
    CsvParser u("a,\"b\n", ',', "mem");
    CHECK_THROWS_WITH_AS(u.next(f), doctest::Contains("mem:1: a quoted field is never closed"), Error);
  }
  SUBCASE("garbage after a closing quote") {
    CsvParser u("a,\"b\"c\n", ',', "mem");
    CHECK_THROWS_WITH_AS(u.next(f), doctest::Contains("after a closing quote"), Error);
  }
}

TEST_CASE("text: numbers") {
  double v = 0;
  CHECK(parse_number(" 3.5 ", v));
  CHECK(v == 3.5);
  CHECK(parse_number("+2e3", v));
  CHECK(v == 2000);
  CHECK(parse_number("-0.25", v));
  CHECK(v == -0.25);
  CHECK(parse_number("NA", v));
  CHECK(std::isnan(v));
  CHECK_FALSE(parse_number("", v));
  CHECK_FALSE(parse_number("1.2.3", v));
  CHECK_FALSE(parse_number("abc", v));
  CHECK_FALSE(parse_number("12abc", v));
  CHECK_FALSE(parse_number("++1", v));
}

TEST_CASE("text: read_table layouts") {
  SUBCASE("CSV with row names (empty corner), cells x genes") {
    auto p = put("a.csv", "\"\",\"Gad2\",\"Vip\"\n\"c1\",1,2\n\"c2\",3,4.5\n");
    AnnData a = read_table(p);
    CHECK(a.obs_names == std::vector<std::string>{"c1", "c2"});
    CHECK(a.var_names == std::vector<std::string>{"Gad2", "Vip"});
    CHECK(a.X(1, 1) == 4.5f);
  }
  SUBCASE("TSV, genes x cells, transposed") {
    auto p = put("g.tsv", "\tcellA\tcellB\tcellC\nGad2\t1\t2\t3\nVip\t4\t5\t6\n");
    ExpressionTableOptions o;
    o.transpose = true;
    AnnData a = read_table(p, o);
    REQUIRE(a.n_obs() == 3);
    REQUIRE(a.n_vars() == 2);
    CHECK(a.obs_names == std::vector<std::string>{"cellA", "cellB", "cellC"});
    CHECK(a.var_names == std::vector<std::string>{"Gad2", "Vip"});
    CHECK(a.X(2, 1) == 6.f);
    CHECK(a.X(0, 1) == 4.f);
  }
  SUBCASE("R write.table header (one field fewer), sniffed tab in a .txt") {
    auto p = put("r.txt", "g1\tg2\nc1\t1\t2\nc2\t3\t4\n");
    AnnData a = read_table(p);
    CHECK(a.obs_names == std::vector<std::string>{"c1", "c2"});
    CHECK(a.var_names == std::vector<std::string>{"g1", "g2"});
  }
  SUBCASE("no row names: rows named by position; CRLF; no final newline") {
    auto p = put("n.txt", "g1\tg2\r\n1\t2\r\n3\t4");
    AnnData a = read_table(p);
    CHECK(a.obs_names == std::vector<std::string>{"0", "1"});
    CHECK(a.X(1, 0) == 3.f);
  }
  SUBCASE("corner label and non-numeric first column") {
    auto p = put("c.csv", "cell,g1,g2\nAAAC,1,2\n");
    AnnData a = read_table(p);
    CHECK(a.obs_names == std::vector<std::string>{"AAAC"});
    CHECK(a.var_names == std::vector<std::string>{"g1", "g2"});
  }
  SUBCASE("forced delimiter and row-name mode") {
    auto p = put("f.dat", "g1;g2\n1;2\n");
    ExpressionTableOptions o;
    o.table.delimiter = Delimiter::Semicolon;
    o.table.row_names = RowNames::None;
    AnnData a = read_table(p, o);
    CHECK(a.n_vars() == 2);
    o.table.row_names = RowNames::First;
    CHECK(read_table(p, o).n_vars() == 1);
  }
  SUBCASE("UTF-8 byte-order mark") {
    auto p = put("bom.csv", "\xEF\xBB\xBFg1,g2\n1,2\n");
    CHECK(read_table(p).var_names[0] == "g1");
  }
  SUBCASE("no header") {
    auto p = put("nh.csv", "c1,1,2\nc2,3,4\n");
    ExpressionTableOptions o;
    o.table.header = false;
    AnnData a = read_table(p, o);
    CHECK(a.obs_names == std::vector<std::string>{"c1", "c2"});
    CHECK(a.var_names == std::vector<std::string>{"0", "1"});
  }
}

TEST_CASE("text: malformed tables give clear errors") {
  SUBCASE("empty file") {
    auto p = put("empty.csv", "");
    CHECK_THROWS_WITH_AS(read_table(p), doctest::Contains("the file is empty"), Error);
    auto q = put("blank.csv", "\n\r\n\n");
    CHECK_THROWS_WITH_AS(read_table(q), doctest::Contains("the file is empty"), Error);
  }
  SUBCASE("header only") {
    auto p = put("header.csv", "a,b\n");
    CHECK_THROWS_WITH_AS(read_table(p), doctest::Contains("has a header but no data rows"), Error);
  }
  SUBCASE("ragged rows") {
    auto p = put("ragged.csv", ",g1,g2\nc1,1,2\nc2,3\n");
    CHECK_THROWS_WITH_AS(read_table(p), doctest::Contains("ragged.csv:3: row has 2 fields but line 2 has 3"), Error);
  }
  SUBCASE("header width") {
    auto p = put("hw.csv", "g1,g2,g3,g4\nc1,1,2\n");
    CHECK_THROWS_WITH_AS(read_table(p), doctest::Contains("hw.csv:1: header has 4 fields"), Error);
  }
  SUBCASE("non-numeric cell names row and column") {
    auto p = put("nn.csv", ",g1,g2\nc1,1,2\nc2,3,oops\n");
    CHECK_THROWS_WITH_AS(read_table(p), doctest::Contains("nn.csv:3: value 'oops' in row 'c2', column 'g2' is not a number"), Error);
  }
  SUBCASE("missing file") {
    CHECK_THROWS_WITH_AS(read_table(text_tmp("nope.csv")), doctest::Contains("file not found"), Error);
  }
}

TEST_CASE("text: joining coordinates and labels") {
  auto expr = put("e.csv", ",g1\nc1,1\nc2,2\nc3,3\n");
  AnnData a = read_table(expr);

  SUBCASE("coordinates by name (rows shuffled, extra rows ignored)") {
    auto p = put("xy.csv", "cell,X,Y,Z\nc3,30,31,32\nc9,0,0,0\nc1,10,11,12\nc2,20,21,22\n");
    CoordinateOptions o;
    o.z = "Z";
    add_coordinates(a, p, o);
    const auto& s = a.obsm.at("spatial");
    REQUIRE(s.cols() == 3);
    CHECK(s(0, 0) == 10);
    CHECK(s(2, 2) == 32);
  }
  SUBCASE("coordinates by position") {
    auto p = put("xy.txt", "X\tY\n1.5\t2\n3\t4\n5\t6\n");
    add_coordinates(a, p);
    CHECK(a.obsm.at("spatial")(2, 1) == 6);
  }
  SUBCASE("coordinate errors") {
    auto p = put("xy2.txt", "x\ty\n1\t2\n");
    CHECK_THROWS_WITH_AS(add_coordinates(a, p), doctest::Contains("no coordinate column 'X'; columns are: x, y"), Error);
    CoordinateOptions o;
    o.x = "x";
    o.y = "y";
    CHECK_THROWS_WITH_AS(add_coordinates(a, p, o), doctest::Contains("has 1 rows but the data has 3 cells"), Error);
    auto q = put("xy3.csv", "cell,X,Y\nc1,1,2\nc2,3,4\nc7,5,6\n");
    CoordinateOptions byname;
    byname.match = Match::ByName;
    CHECK_THROWS_WITH_AS(add_coordinates(a, q, byname), doctest::Contains("cells not found by name: c3"), Error);
  }
  SUBCASE("labels by position (R write.csv style with numeric row names)") {
    auto p = put("lab.csv", "\"\",\"x\"\n\"1\",\"Astro\"\n\"2\",\"OD Mature\"\n\"3\",\"Astro\"\n");
    add_labels(a, p);
    CHECK(a.obs.at("celltype").str == std::vector<std::string>{"Astro", "OD Mature", "Astro"});
    CHECK(a.obs.at("celltype").categorical);
  }
  SUBCASE("labels by name, chosen column") {
    auto p = put("lab2.tsv", "cell\tclass\tsubclass\nc2\tB\tb1\nc1\tA\ta1\nc3\tC\tc1\n");
    LabelOptions o;
    o.column = "subclass";
    o.obs_key = "sub";
    add_labels(a, p, o);
    CHECK(a.obs.at("sub").str == std::vector<std::string>{"a1", "b1", "c1"});
    CHECK_THROWS_WITH_AS(add_labels(a, p), doctest::Contains("has 2 value columns (class, subclass)"), Error);
  }
}

TEST_CASE("text: write_csv round trip and atomicity") {
  RowMatrix<float> m(2, 3);
  m << 1.f, 0.1f, -3.25e-8f, std::nanf(""), 1e30f, 7.f;
  const std::vector<std::string> rows{"cell,1", "cell \"2\""}, cols{"g1", "g 2", "g3"};
  const std::string p = text_tmp("out.csv");
  write_csv(p, m, rows, cols);
  CHECK(!fs::exists(p + ".tmp-" + std::to_string(::getpid())));
  AnnData a = read_table(p);
  CHECK(a.obs_names == rows);
  CHECK(a.var_names == cols);
  CHECK(a.X(0, 1) == 0.1f);  // shortest round-trip formatting is exact
  CHECK(a.X(0, 2) == -3.25e-8f);
  CHECK(std::isnan(a.X(1, 0)));
  CHECK(a.X(1, 1) == 1e30f);

  SUBCASE("TSV and an AnnData overload") {
    CsvWriteOptions o;
    o.delimiter = '\t';
    const std::string q = text_tmp("out.tsv");
    write_csv(q, a, o);
    AnnData b = read_table(q);
    CHECK(b.obs_names == rows);
    CHECK(b.X(1, 2) == 7.f);
  }
  SUBCASE("a failed write leaves the old file untouched") {
    const auto before = fs::file_size(p);
    CHECK_THROWS_WITH_AS(write_csv(p, m, rows, std::vector<std::string>{"only one"}),
                         doctest::Contains("1 column names for a matrix with 3 columns"), Error);
    CHECK(fs::file_size(p) == before);
  }
  SUBCASE("AtomicFile removes its temporary on exceptions") {
    const std::string q = text_tmp("guard.txt");
    std::string tmp;
    try {
      write_atomically(q, [&](const std::string& t) {
        tmp = t;
        std::ofstream(t) << "partial";
        throw std::runtime_error("boom");
      });
    } catch (const std::runtime_error&) {
    }
    CHECK(!tmp.empty());
    CHECK(!fs::exists(tmp));
    CHECK(!fs::exists(q));
  }
}
