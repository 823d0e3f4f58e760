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

int main(int argc, char** argv) {
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
    fmt::print(stderr, "lumac: error: unknown command '{}' (commands: {})\n", argv[1],
               fmt::join(names, ", "));
    return 2;
  }
  const lumac::cli::InterruptGuard interrupt_guard;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError&) {
    fmt::print(stderr, "lumac: error: {}\n", lumac::cli::unexpected_arguments_message(app));
    return 2;
  } catch (const CLI::RequiredError& e) {
    // A mistyped option is reported before the option it failed to give.
    const bool no_command = app.get_subcommands().empty();
    const bool extras = !no_command && lumac::cli::has_unexpected_options(app);
    fmt::print(stderr, "lumac: error: {}\n",
               no_command ? lumac::cli::missing_command_message(app)
               : extras   ? lumac::cli::unexpected_arguments_message(app)
                          : std::string(e.what()));
    return 2;
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "lumac: error: {}\n", e.what());
    return 2;
  } catch (const lumac::Interrupted& e) {
    fmt::print(stderr, "lumac: {}\n", e.what());
    return 130;
  } catch (const lumac::Error& e) {
    fmt::print(stderr, "lumac: error: {}\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "lumac: error: out of memory\n");
    return 2;
  }
  return 0;
}
