// `lumac devices`: the derived figures of every device of a config (studies/device_figures.hpp).
#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "lumac/studies/device_figures.hpp"

namespace lumac::cli {

void register_devices(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("devices", "print the derived figures of every device of a config");
  auto opts = std::make_shared<CommonOptions>();
  add_common_options(*cmd, *opts);
  cmd->callback([opts] {
    const Settings s = load_settings(*opts);
    const auto figures = device_figures(s);
    if (opts->json)
      print_json(to_json(figures));
    else
      print_figures("lumac devices", figures);
  });
}

}  // namespace lumac::cli
