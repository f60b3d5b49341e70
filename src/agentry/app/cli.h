// The command line: `agentry serve [options]` (CLI11).
#pragma once

namespace agentry {

// Parses argv, runs the chosen command and returns the process exit code.
int RunCli(int argc, char** argv);

}  // namespace agentry
