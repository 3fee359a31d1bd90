// What every fuzz target shares: the libFuzzer entry points and a check that turns a broken
// invariant into a crash libFuzzer records (an assert would vanish under NDEBUG).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace quorum::fuzz {

[[noreturn]] inline void invariant_broken(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
    std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

}  // namespace quorum::fuzz

#define QUORUM_FUZZ_CHECK(cond) \
    ((cond) ? void(0) : ::quorum::fuzz::invariant_broken(#cond, __FILE__, __LINE__))
