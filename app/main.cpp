// The lumac command line. Bad input of any kind (lumac::Error, or a CLI parse error) is
// reported here once, as one line on stderr, with exit code 2.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/hints.hpp"
#include "app/interrupt.hpp"
#include "lumac/core/error.hpp"
#include "mpi/world.hpp"

namespace {

// The commands that spread their work over the ranks of an mpirun job (mpi/distributed.hpp).
bool runs_distributed(const std::string& command) {
  return command == "sweep" || command == "eval" || command == "precision";
}

// Reports an error of a command as one line and returns the exit code. Under mpirun a failure
// before the command's sync point is agreed on by every rank (mpi::agree), so that rank 0
// reports it once (a stop signal too: the ranks that got past their preparation wait for the
// others there); later, a rank other than 0 tags its line with its rank.
int report(std::string text, int code, bool interrupted) {
  if (text.empty()) text = "unknown error";
  const char* kind = interrupted ? "" : "error: ";
  if (lumac::mpi::distributed() && !lumac::mpi::agreed()) {
    try {
      lumac::mpi::agree(text, interrupted);
    } catch (const lumac::mpi::QuietExit& e) {
      return e.code();
    } catch (const lumac::Interrupted& e) {
      fmt::print(stderr, "lumac: {}\n", e.what());
      return 130;
    } catch (const lumac::Error& e) {
      fmt::print(stderr, "lumac: error: {}\n", e.what());
      return 2;
    }
  }
  fmt::print(stderr, "lumac: {}{}{}\n", lumac::mpi::log_tag(), kind, text);
  lumac::mpi::set_exit_code(code);
  // Past the sync point, rank 0 may be waiting for this rank: end the job rather than wait.
  if (lumac::mpi::distributed() && lumac::mpi::rank() != 0) lumac::mpi::out_of_step();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const lumac::mpi::World world(argc, argv);
  // Command-line errors are the same on every rank of an mpirun job: rank 0 reports them.
  const bool speaks = lumac::mpi::rank() == 0;
  CLI::App app{
      "lumac: photonic hardware co-simulator (devices -> optical MAC -> networks -> energy)"};
  app.set_version_flag("--version", std::string("lumac ") + LUMAC_VERSION);
  app.require_subcommand(1);
  lumac::cli::register_bench(app);
  lumac::cli::register_config(app);
  lumac::cli::register_devices(app);
  lumac::cli::register_energy(app);
  lumac::cli::register_enob(app);
  lumac::cli::register_eval(app);
  lumac::cli::register_import(app);
  lumac::cli::register_infer(app);
  lumac::cli::register_precision(app);
  lumac::cli::register_search(app);
  lumac::cli::register_sweep(app);
  lumac::cli::register_trace(app);
  lumac::cli::register_train(app);
  lumac::cli::set_command_line(argc, argv);
  // CLI11 reports an unknown command only as "a subcommand is required"; name it instead.
  std::vector<std::string> names;
  bool known = false;
  for (const auto* sub : app.get_subcommands({})) {
    names.push_back(sub->get_name());
    known = known || (argc > 1 && sub->get_name() == argv[1]);
  }
  if (argc > 1 && argv[1][0] != '-' && !known) {
    if (speaks)
      fmt::print(stderr, "lumac: error: unknown command '{}' (commands: {})\n", argv[1],
                 fmt::join(names, ", "));
    return 2;
  }
  if (lumac::mpi::distributed() && argc > 1 && argv[1][0] != '-' && !runs_distributed(argv[1])) {
    if (speaks)
      fmt::print(stderr,
                 "lumac: error: 'lumac {}' runs as one process: start it without mpirun (sweep, "
                 "eval and precision spread over the ranks of an mpirun job)\n",
                 argv[1]);
    return 2;
  }
  const lumac::cli::InterruptGuard interrupt_guard;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return speaks ? app.exit(e) : 0;
  } catch (const CLI::CallForAllHelp& e) {
    return speaks ? app.exit(e) : 0;
  } catch (const CLI::CallForVersion& e) {
    return speaks ? app.exit(e) : 0;
  } catch (const CLI::ExtrasError&) {
    if (speaks)
      fmt::print(stderr, "lumac: error: {}\n", lumac::cli::unexpected_arguments_message(app));
    return 2;
  } catch (const CLI::RequiredError& e) {
    // A mistyped option is reported before the option it failed to give.
    const bool no_command = app.get_subcommands().empty();
    const bool extras = !no_command && lumac::cli::has_unexpected_options(app);
    if (speaks)
      fmt::print(stderr, "lumac: error: {}\n",
                 no_command ? lumac::cli::missing_command_message(app)
                 : extras   ? lumac::cli::unexpected_arguments_message(app)
                            : std::string(e.what()));
    return 2;
  } catch (const CLI::ParseError& e) {
    if (speaks) fmt::print(stderr, "lumac: error: {}\n", e.what());
    return 2;
  } catch (const lumac::mpi::QuietExit& e) {
    return e.code();
  } catch (const lumac::Interrupted& e) {
    return report(e.what(), 130, true);
  } catch (const lumac::Error& e) {
    return report(e.what(), 2, false);
  } catch (const std::bad_alloc&) {
    return report("out of memory", 2, false);
  }
  return 0;
}
