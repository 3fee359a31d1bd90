// Runs a fuzz target's LLVMFuzzerTestOneInput on every file named on the command line (a
// directory: every regular file under it, in name order, except dot files such as .gitkeep),
// without libFuzzer. Built with the normal compiler and sanitizers into the test tree, it
// replays the seed corpus and every kept regression input on each test run.
//
// Each input runs in a child process of its own (set up with LLVMFuzzerInitialize there), so
// that one failing input does not hide the others; the exit status is 1 when any failed.
#include "fuzz_support.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

// Targets that need set-up define LLVMFuzzerInitialize; the others leave this weak default.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int*, char***) { return 0; }

namespace {

[[noreturn]] void run_one(int argc, char** argv, const fs::path& file) {
    LLVMFuzzerInitialize(&argc, &argv);
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    std::exit(0);  // static destructors and the leak check run
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        const fs::path p(argv[i]);
        if (fs::is_directory(p)) {
            for (const auto& entry : fs::recursive_directory_iterator(p)) {
                if (entry.is_regular_file() && !entry.path().filename().string().starts_with('.')) {
                    files.push_back(entry.path());
                }
            }
        } else if (fs::is_regular_file(p)) {
            files.push_back(p);
        } else {
            std::cerr << "replay: no such file or directory: " << p << '\n';
            return 2;
        }
    }
    std::sort(files.begin(), files.end());

    std::vector<fs::path> failed;
    for (const auto& f : files) {
        std::cerr.flush();
        const pid_t child = fork();
        if (child < 0) {
            std::perror("replay: fork");
            return 2;
        }
        if (child == 0) run_one(argc, argv, f);
        int status = 0;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::cerr << "replay: FAILED " << f.string() << '\n';
            failed.push_back(f);
        }
    }
    std::cerr << "replay: " << files.size() << " inputs, " << failed.size() << " failed\n";
    for (const auto& f : failed) std::cerr << "  " << f.string() << '\n';
    return failed.empty() ? 0 : 1;
}
