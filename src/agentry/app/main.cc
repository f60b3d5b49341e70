// The agentry executable: everything else lives in the layer libraries.
#include "agentry/app/cli.h"

int main(int argc, char** argv) { return agentry::RunCli(argc, argv); }
