#include "app/hints.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lumac/core/config.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac::cli {

namespace {

// The config key whose name (after the section) is `option` with '-' read as '_', if any.
std::string config_key_named(std::string option) {
  for (char& c : option)
    if (c == '-') c = '_';
  for (const auto& k : list_keys(Settings{}))
    if (k.key.substr(k.key.find('.') + 1) == option) return k.key;
  return "";
}

}  // namespace

std::string unexpected_arguments_message(const CLI::App& app) {
  const auto parsed = app.get_subcommands();
  if (parsed.empty())
    return fmt::format("unexpected arguments: {}", fmt::join(app.remaining(), " "));
  const CLI::App& cmd = *parsed.front();
  std::vector<std::string> extra = cmd.remaining();
  for (const auto& a : app.remaining()) extra.push_back(a);
  // CLI11 lists an option's value before the option: restore the command-line order.
  std::vector<std::string> ordered;
  for (const auto& a : extra)
    if (a.rfind("--", 0) == 0) ordered.push_back(a);
  for (const auto& a : extra)
    if (a.rfind("--", 0) != 0) ordered.push_back(a);
  extra = ordered;
  std::vector<std::string> options;
  for (const CLI::Option* o : cmd.get_options())
    for (const auto& name : o->get_lnames()) options.push_back("--" + name);
  const std::string where = fmt::format("lumac {}", cmd.get_name());
  for (std::size_t i = 0; i < extra.size(); ++i) {
    const std::string& a = extra[i];
    if (a.rfind("--", 0) != 0 || a.size() < 3) continue;
    const std::string name = a.substr(0, a.find('='));
    const std::string key = config_key_named(name.substr(2));
    if (!key.empty()) {
      std::string value = a.find('=') != std::string::npos ? a.substr(a.find('=') + 1) : "VALUE";
      if (value == "VALUE" && i + 1 < extra.size() && extra[i + 1].rfind("-", 0) != 0)
        value = extra[i + 1];
      return fmt::format("{} has no option {}; {} is a config key: --set {}={}", where, name, key,
                         key, value);
    }
    const std::string near = nearest_key(name, options);
    // A suggestion only when it starts like what was typed (--fanin: --fan-in, not --config).
    if (near.size() > 2 && name.size() > 2 && near[2] == name[2])
      return fmt::format("{} has no option {} (did you mean {}?)", where, name, near);
    return fmt::format("{} has no option {} ({} --help lists them)", where, name, where);
  }
  return fmt::format("{}: unexpected arguments: {} ({} --help lists the options)", where,
                     fmt::join(extra, " "), where);
}

bool has_unexpected_options(const CLI::App& app) {
  const auto parsed = app.get_subcommands();
  std::vector<std::string> extra = app.remaining();
  if (!parsed.empty())
    for (const auto& a : parsed.front()->remaining()) extra.push_back(a);
  for (const auto& a : extra)
    if (a.rfind("--", 0) == 0) return true;
  return false;
}

std::string missing_command_message(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  return fmt::format("a command is required: {} (lumac COMMAND --help for its options)",
                     fmt::join(names, ", "));
}

}  // namespace lumac::cli
