// The program's entry point: `quorum [--help | --version] <command> [options]`.
#pragma once

namespace quorum::app {

/// Dispatches to the command named by argv[1] and returns the process exit code (see options.hpp:
/// 0 success, 1 failure, 2 bad command line). Help and version go to stdout, errors to stderr.
int run_command_line(int argc, char** argv);

}  // namespace quorum::app
