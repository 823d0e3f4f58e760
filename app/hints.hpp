// Hints for command lines CLI11 rejects: an unknown option names the nearest valid one, an
// option that is a config key names the --set that sets it, and a missing command lists them.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace lumac::cli {

// The one-line message for arguments that the command line did not expect (the remaining
// arguments of `app` and of the command that was parsed, if any).
std::string unexpected_arguments_message(const CLI::App& app);

// Whether the command line holds an option (--name) that the parsed command does not know.
bool has_unexpected_options(const CLI::App& app);

// "a command is required: bench, config, ... (lumac COMMAND --help)".
std::string missing_command_message(const CLI::App& app);

}  // namespace lumac::cli
