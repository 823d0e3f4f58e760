// `lumac config`: every config key of the effective configuration, with unit and meaning
// (the source of docs/config.md), or the effective config as TOML with --toml.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"

namespace lumac::cli {

namespace {

// The key's kind; a choice key lists its values.
std::string kind_name(const KeyInfo& k) {
  if (k.kind == KeyKind::choice) return fmt::format("{}", fmt::join(k.choices, " | "));
  return std::string(key_kind_name(k.kind));
}

}  // namespace

void register_config(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("config", "list every config key (unit, value, meaning) of a config");
  auto opts = std::make_shared<CommonOptions>();
  auto toml_out = std::make_shared<bool>(false);
  auto markdown = std::make_shared<bool>(false);
  add_common_options(*cmd, *opts);
  cmd->add_flag("--toml", *toml_out,
                "print the effective config as a TOML preset (numbers in their shortest exact "
                "form; the comments of the preset file are not kept)");
  cmd->add_flag("--markdown", *markdown, "print the key table as Markdown (docs/config.md)");
  cmd->callback([opts, toml_out, markdown] {
    const Settings s = load_settings(*opts);
    const auto keys = list_keys(s);
    if (*toml_out) {
      fmt::print("{}\n", settings_toml(s));
    } else if (opts->json) {
      Json j;
      for (const auto& k : keys) {
        Json entry{{"value", k.value}, {"unit", k.unit}, {"type", kind_name(k)}, {"doc", k.doc}};
        j[k.key] = entry;
      }
      print_json(j);
    } else if (*markdown) {
      fmt::print("| key | type | unit | default | meaning |\n|---|---|---|---|---|\n");
      for (const auto& k : keys)
        fmt::print("| `{}` | {} | {} | {} | {} |\n", k.key, kind_name(k), k.unit, k.value, k.doc);
    } else {
      std::size_t w = 0;
      for (const auto& k : keys) w = std::max(w, k.key.size());
      for (const auto& k : keys)
        fmt::print("{:<{}}  {:>14} {:<10}  {}\n", k.key, w, k.value, k.unit, k.doc);
    }
  });
}

}  // namespace lumac::cli
