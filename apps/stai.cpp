// stai — the command-line program.
//
//   stai demo                                   try it on simulated data
//   stai inspect FILE                           what is in a file
//   stai impute   --spatial ST --reference SC --genes G1,G2 --out OUT.h5ad
//   stai annotate --spatial ST --reference SC --label-key celltype --out OUT.h5ad
//   stai cv       --spatial ST --reference SC --scheme loo --out CV.csv
//
// Exit codes: 0 success, 1 a problem with the data or the run (one line
// "stai: error: ..." on stderr), 2 a usage error, 130 interrupted (Ctrl-C),
// 143 terminated (SIGTERM) while training or writing.
#include <cstring>

#include "cli/annotate.hpp"
#include "cli/cv.hpp"
#include "cli/demo.hpp"
#include "cli/impute.hpp"
#include "cli/inspect.hpp"
#include "cli/options.hpp"
#include "cli/report.hpp"
#include "cli/signals.hpp"
#include "cli/strings.hpp"

namespace {

bool wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--json") == 0) return true;
  return false;
}

/// The subcommand named on the command line (for "see --help" hints).
std::string subcommand_of(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    for (const char* s : {"impute", "annotate", "cv", "demo", "inspect"})
      if (std::strcmp(argv[i], s) == 0) return s;
  return "";
}

int fail(int code, const std::string& message, bool json_line) {
  const std::string m = stai::cli::utf8_text(stai::cli::one_line(message));
  std::cerr << "stai: error: " << m << '\n' << std::flush;
  if (json_line)
    std::cout << stai::cli::json_text({{"status", "error"}, {"error", m}, {"exit_code", code}}) << '\n' << std::flush;
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace stai::cli;
  CLI::App app{
      "stai: spatial transcriptomics with stAI. Imputes the expression of unmeasured genes in spatial data "
      "(MERFISH, osmFISH, seqFISH, STARmap, Xenium, ...) and annotates cell types, by learning from a "
      "single-cell RNA-seq reference of the same tissue.",
      "stai"};
  app.set_version_flag("--version", std::string("stai ") + stai::version());
  app.require_subcommand(1);
  app.footer(
      "Start here:\n"
      "  stai demo                     simulate data, train, and score the results (about a minute)\n"
      "  stai inspect my_spatial.h5ad  check what is in a file and whether stai can use it\n"
      "  stai impute --spatial st.h5ad --reference sc.h5ad --all-unmeasured --out imputed.h5ad\n"
      "  stai annotate --spatial st.h5ad --reference sc.h5ad --label-key celltype --out annotated.h5ad\n"
      "  stai cv --spatial st.h5ad --reference sc.h5ad --scheme loo --out cv.csv\n"
      "\n"
      "Run 'stai COMMAND --help' for the options of a command. Spatial data need cell coordinates\n"
      "(obsm['spatial'] in .h5ad); the reference should hold raw counts (X or a layer such as 'counts').");

  ImputeOptions io;
  AnnotateOptions ao;
  CvOptions co;
  DemoOptions dopt;
  InspectOptions ino;
  CLI::App* s_impute = add_impute(app, io);
  CLI::App* s_annotate = add_annotate(app, ao);
  CLI::App* s_cv = add_cv(app, co);
  CLI::App* s_demo = add_demo(app, dopt);
  CLI::App* s_inspect = add_inspect(app, ino);

  const bool json_line = wants_json(argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::string sub = subcommand_of(argc, argv);
    std::string msg = e.what();
    if (argc == 1) msg = "no command given; the commands are impute, annotate, cv, demo and inspect";
    else if (sub.empty() && argv[1][0] != '-')
      msg = std::string("unknown command '") + argv[1] + "'; the commands are impute, annotate, cv, demo and inspect";
    return fail(2, msg + "; run 'stai " + (sub.empty() ? std::string() : sub + " ") + "--help' for usage", json_line);
  }

  const std::string cmdline = command_line(argc, argv);
  try {
    json summary;
    if (s_impute->parsed()) summary = run_impute(io, cmdline);
    else if (s_annotate->parsed()) summary = run_annotate(ao, cmdline);
    else if (s_cv->parsed()) summary = run_cv(co, cmdline);
    else if (s_demo->parsed()) summary = run_demo(dopt, cmdline);
    else if (s_inspect->parsed()) summary = run_inspect(ino);
    if (json_line) std::cout << json_text(summary) << '\n' << std::flush;
    return 0;
  } catch (const UsageError& e) {
    const std::string sub = subcommand_of(argc, argv);
    return fail(2, std::string(e.what()) + "; run 'stai " + sub + " --help' for usage", json_line);
  } catch (const stai::Cancelled&) {
    return fail(interrupt_exit_code(), "interrupted (" + interrupt_name(interrupted().load()) + "); no output was written",
                json_line);
  } catch (const stai::WriteAborted& e) {
    return fail(128 + e.signal, std::string(e.what()) + " (" + interrupt_name(e.signal) + ")", json_line);
  } catch (const stai::Error& e) {
    return fail(1, e.what(), json_line);
  } catch (const std::bad_alloc&) {
    return fail(1, "out of memory; use fewer cells or genes, or a machine with more memory", json_line);
  } catch (const std::exception&) {
    // Errors in the data or the run are stai::Errors that say what to fix;
    // anything else is a bug in stai, not something the user can act on.
    return fail(1, "an internal error stopped the run; please report it as a bug, with the command line", json_line);
  }
}
