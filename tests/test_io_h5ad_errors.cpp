// Malformed .h5ad inputs give a stai::Error, never a crash.
#include "h5ad_fixture.hpp"

using namespace h5ad_test;

TEST_CASE("h5ad: malformed inputs give stai::Error, never a crash") {
  const RowMatrix<float> x = sample_matrix(4, 3);
  auto base = [&](const std::string& name) {
    return tmp_path(name);
  };

  SUBCASE("file does not exist") {
    CHECK_THROWS_WITH_AS(read_h5ad(base("absent.h5ad")), doctest::Contains("does not exist"), Error);
  }
  SUBCASE("not an HDF5 file") {
    const std::string p = base("text.h5ad");
    std::ofstream(p) << "gene,cell\n1,2\n";
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("not an HDF5 file"), Error);
  }
  SUBCASE("truncated file") {
    const std::string good = base("full.h5ad");
    write_h5ad(good, rich_anndata());
    const auto size = fs::file_size(good);
    for (double frac : {0.9, 0.5, 0.1}) {
      const std::string p = base("trunc.h5ad");
      fs::copy_file(good, p, fs::copy_options::overwrite_existing);
      fs::resize_file(p, static_cast<std::uintmax_t>(double(size) * frac));
      CHECK_THROWS_AS(read_h5ad(p), Error);
    }
  }
  SUBCASE("strings as X") {
    const std::string p = base("strx.h5ad");
    {
      auto f = h5::File::create(p);
      auto g = h5::create_group(f, "tmp");
      (void)g;
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, 4);
      hsize_t d[2] = {2, 2};
      hid_t s = H5Screate_simple(2, d, nullptr);
      hid_t ds = H5Dcreate2(f.id(), "X", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      const char buf[16] = "abcdefghijklmno";
      H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
      H5Dclose(ds);
      H5Sclose(s);
      H5Tclose(t);
      write_frame(f, "obs", names(2, "c"));
      write_frame(f, "var", names(2, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("/X: the matrix holds string values; expected numbers"), Error);
  }
  SUBCASE("missing obs group") {
    const std::string p = base("noobs.h5ad");
    {
      auto f = h5::File::create(p);
      h5::write(f, "X", x.data(), {4, 3}, H5T_IEEE_F32LE);
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("'obs' is missing"), Error);
  }
  SUBCASE("missing X") {
    const std::string p = base("nox.h5ad");
    {
      auto f = h5::File::create(p);
      write_frame(f, "obs", names(3, "c"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("no X matrix"), Error);
  }
  SUBCASE("indptr length mismatch") {
    const std::string p = base("badptr.h5ad");
    auto s = to_sparse(x, true);
    s.indptr.pop_back();
    {
      auto f = h5::File::create(p);
      write_sparse_group(f, "X", s, 4, 3, true, false, false);
      write_frame(f, "obs", names(4, "c"));
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("/X/indptr: has 4 entries but the CSR matrix of shape (4, 3) needs 5"), Error);
  }
  SUBCASE("indices and data lengths differ") {
    const std::string p = base("badidx.h5ad");
    auto s = to_sparse(x, true);
    s.indices.push_back(0);
    {
      auto f = h5::File::create(p);
      write_sparse_group(f, "X", s, 4, 3, true, true, false);
      write_frame(f, "obs", names(4, "c"));
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("indices has"), Error);
  }
  SUBCASE("index out of range in sparse data") {
    for (bool csr : {true, false}) {
      const std::string p = base("oob.h5ad");
      auto s = to_sparse(x, csr);
      s.indices[1] = csr ? 3 : 4;
      {
        auto f = h5::File::create(p);
        write_sparse_group(f, "X", s, 4, 3, csr, false, false);
        write_frame(f, "obs", names(4, "c"));
        write_frame(f, "var", names(3, "g"));
        f.close();
      }
      CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("outside [0,"), Error);
    }
  }
  SUBCASE("decreasing indptr / wrong final indptr") {
    const std::string p = base("decr.h5ad");
    auto s = to_sparse(x, true);
    std::swap(s.indptr[1], s.indptr[2]);
    {
      auto f = h5::File::create(p);
      write_sparse_group(f, "X", s, 4, 3, true, false, false);
      write_frame(f, "obs", names(4, "c"));
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("decreases at position"), Error);
  }
  SUBCASE("bad sparse shape attribute") {
    const std::string p = base("shape.h5ad");
    {
      auto f = h5::File::create(p);
      auto g = h5::create_group(f, "X");
      h5::write_encoding(g, "csr_matrix", "0.1.0");
      h5::write_attr_int64s(g, "shape", {4});
      write_frame(f, "obs", names(4, "c"));
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("shape must be two non-negative integers"), Error);
  }
  SUBCASE("obs length mismatch") {
    const std::string p = base("obslen.h5ad");
    {
      auto f = h5::File::create(p);
      h5::write(f, "X", x.data(), {4, 3}, H5T_IEEE_F32LE);
      write_frame(f, "obs", names(3, "c"));
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("/obs: has 3 rows but /X has 4 rows"), Error);
  }
  SUBCASE("obs column length mismatch") {
    const std::string p = base("collen.h5ad");
    {
      auto f = h5::File::create(p);
      h5::write(f, "X", x.data(), {4, 3}, H5T_IEEE_F32LE);
      auto obs = h5::create_group(f, "obs");
      h5::write_attr_string(obs, "_index", "_index");
      h5::write_strings(obs, "_index", names(4, "c"));
      std::vector<double> v{1, 2};
      h5::write(obs, "short", v.data(), {2}, H5T_IEEE_F64LE);
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("/obs/short: column has 2 entries but there are 4 cells"), Error);
  }
  SUBCASE("categorical code out of range") {
    const std::string p = base("code.h5ad");
    {
      auto f = h5::File::create(p);
      h5::write(f, "X", x.data(), {4, 3}, H5T_IEEE_F32LE);
      auto obs = h5::create_group(f, "obs");
      h5::write_encoding(obs, "dataframe", "0.2.0");
      h5::write_attr_string(obs, "_index", "_index");
      h5::write_attr_strings(obs, "column-order", {"ct"});
      h5::write_strings(obs, "_index", names(4, "c"));
      auto ct = h5::create_group(obs, "ct");
      h5::write_encoding(ct, "categorical", "0.2.0");
      h5::write_strings(ct, "categories", {"a"});
      std::vector<std::int8_t> codes{0, 0, 5, 0};
      h5::write(ct, "codes", codes.data(), {4}, H5T_STD_I8LE);
      write_frame(f, "var", names(3, "g"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("categorical code 5 at position 2 is out of range"), Error);
  }
  SUBCASE("empty matrix") {
    const std::string p = base("empty.h5ad");
    RowMatrix<float> e(0, 3);
    write_dense_file(p, e, H5T_IEEE_F32LE);
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("the matrix is empty (0 cells x 3 genes)"), Error);
    H5adReadOptions o;
    o.allow_empty = true;
    CHECK(read_h5ad(p, o).n_obs() == 0);
  }
  SUBCASE("requested genes missing") {
    const std::string p = base("genes.h5ad");
    write_dense_file(p, x, H5T_IEEE_F32LE);
    H5adReadOptions o;
    o.genes = {"gene1", "Nope", "Zilch"};
    CHECK_THROWS_WITH_AS(read_h5ad(p, o), doctest::Contains("requested genes not found in var names: Nope, Zilch"), Error);
    o.genes = {"gene1", "gene1"};
    CHECK_THROWS_WITH_AS(read_h5ad(p, o), doctest::Contains("requested twice"), Error);
  }
  SUBCASE("obsm stored as a dataframe") {
    const std::string p = base("obsmdf.h5ad");
    {
      auto f = h5::File::create(p);
      write_h5ad(f, rich_anndata());
      h5::Group obsm(h5::Hid(H5Gopen2(f.id(), "obsm", H5P_DEFAULT)), p, "/obsm");
      write_frame(obsm, "coords", names(5, "c"));
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("/obsm/coords: is stored as a 'dataframe'"), Error);
    H5adReadOptions o;
    o.obsm_keys = std::vector<std::string>{"spatial"};
    CHECK(read_h5ad(p, o).obsm.size() == 1);
  }
  SUBCASE("read limit guards huge allocations") {
    const std::string p = base("limit.h5ad");
    {
      auto f = h5::File::create(p);
      auto g = h5::create_group(f, "X");
      h5::write_encoding(g, "csr_matrix", "0.1.0");
      h5::write_attr_int64s(g, "shape", {std::int64_t(1) << 40, std::int64_t(1) << 40});
      std::vector<float> d;
      std::vector<std::int32_t> i;
      h5::write(g, "data", d.data(), {0}, H5T_IEEE_F32LE);
      h5::write(g, "indices", i.data(), {0}, H5T_STD_I32LE);
      h5::write(g, "indptr", i.data(), {0}, H5T_STD_I32LE);
      h5::create_group(f, "obs");  // no index: names would be generated for 2^40 cells
      h5::create_group(f, "var");
      f.close();
    }
    CHECK_THROWS_WITH_AS(read_h5ad(p), doctest::Contains("more than the read limit"), Error);
  }
}
