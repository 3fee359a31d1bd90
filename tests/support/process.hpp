// The tests' spawned server: running the real `quorum` binary from tests, one-shot commands
// (help, bad options) and a server process that is started on a free port and stopped by a
// signal. In-process servers are test_server.hpp's.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace quorum::testing {

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// The exit code of a wait status: the code, or 128 + the signal that ended the process.
inline int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

/// Starts `binary args...` with stdout and stderr sent to the given files (they are truncated) and
/// the environment less QUORUM_TOKEN plus `extra_env` ("NAME=value"). Returns the pid.
inline pid_t spawn_process(const std::string& binary, const std::vector<std::string>& args,
                           const std::filesystem::path& out_file,
                           const std::filesystem::path& err_file,
                           const std::vector<std::string>& extra_env = {}) {
    std::vector<std::string> argv_store{binary};
    argv_store.insert(argv_store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<std::string> env_store;
    for (char** e = environ; *e != nullptr; ++e) {
        if (!std::string_view(*e).starts_with("QUORUM_TOKEN=")) env_store.emplace_back(*e);
    }
    env_store.insert(env_store.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn " + binary);
    return pid;
}

/// Waits up to `deadline` for `pid` to exit; its exit code (see exit_code_of), or nullopt.
inline std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return exit_code_of(status);
        if (r < 0) throw std::system_error(errno, std::generic_category(), "waitpid");
        if (std::chrono::steady_clock::now() >= until) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
}

struct command_result {
    int exit_code = -1;
    std::string out;
    std::string err;
};

/// Runs the quorum binary with `args` to completion (at most 60 s) in `work_dir`'s files.
inline command_result run_quorum(const std::vector<std::string>& args,
                                 const std::filesystem::path& work_dir,
                                 const std::vector<std::string>& extra_env = {}) {
    const auto out = work_dir / "cmd.out";
    const auto err = work_dir / "cmd.err";
    const pid_t pid = spawn_process(QUORUM_BINARY, args, out, err, extra_env);
    auto code = wait_for_exit(pid, std::chrono::seconds{60});
    if (!code) {
        ::kill(pid, SIGKILL);
        code = wait_for_exit(pid, std::chrono::seconds{10});
        throw std::runtime_error("quorum did not exit within 60 s");
    }
    return {*code, read_file(out), read_file(err)};
}

/// A `quorum serve` process on 127.0.0.1 with a port the kernel picked (--listen 127.0.0.1:0),
/// found from its "listening" log line. The destructor kills it (SIGKILL) if it still runs.
class server_process {
public:
    /// Starts the server on `data_dir` with `extra` arguments; its stderr goes to `log_file`.
    /// Returns once it logs "listening" (it is then ready); throws if it exits or takes > 60 s.
    server_process(const std::filesystem::path& data_dir, std::filesystem::path log_file,
                   const std::vector<std::string>& extra = {},
                   const std::vector<std::string>& extra_env = {})
        : log_file_(std::move(log_file)) {
        std::vector<std::string> args{
            "serve", "--listen", "127.0.0.1:0", "--data", data_dir.string(), "--threads", "2"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto out_file = log_file_;
        out_file += ".out";
        pid_ = spawn_process(QUORUM_BINARY, args, out_file, log_file_, extra_env);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{60};
        while (!(port_ = find_listening_port())) {
            if (auto code = wait_for_exit(pid_, std::chrono::milliseconds{0})) {
                pid_ = -1;
                throw std::runtime_error("quorum serve exited with " + std::to_string(*code) +
                                         " before listening; its log:\n" + log());
            }
            if (std::chrono::steady_clock::now() >= until) {
                throw std::runtime_error("quorum serve did not log 'listening' within 60 s:\n" +
                                         log());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{20});
        }
    }

    ~server_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            (void)wait_for_exit(pid_, std::chrono::seconds{10});
        }
    }
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    [[nodiscard]] std::uint16_t port() const { return *port_; }
    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] std::string log() const { return read_file(log_file_); }

    void send_signal(int signo) const { ::kill(pid_, signo); }

    /// Waits for the process to exit; its exit code, or nullopt after the deadline.
    std::optional<int> wait_exit(std::chrono::milliseconds deadline) {
        auto code = wait_for_exit(pid_, deadline);
        if (code) pid_ = -1;
        return code;
    }

    /// SIGKILL, then reap.
    void kill_hard() {
        ::kill(pid_, SIGKILL);
        (void)wait_exit(std::chrono::seconds{10});
    }

    /// The log lines (JSON objects) whose "msg" is `msg`.
    [[nodiscard]] std::vector<boost::json::object> log_lines(std::string_view msg) const {
        std::vector<boost::json::object> out;
        std::istringstream in(log());
        for (std::string line; std::getline(in, line);) {
            boost::system::error_code ec;
            auto v = boost::json::parse(line, ec);
            if (ec || !v.is_object()) continue;
            const auto* m = v.as_object().if_contains("msg");
            if (m && m->is_string() && m->as_string() == msg) out.push_back(v.as_object());
        }
        return out;
    }

    /// The application's "listening" line (the one with the bound "addr"), logged once ready.
    [[nodiscard]] std::optional<boost::json::object> ready_line() const {
        for (auto& line : log_lines("listening")) {
            const auto* addr = line.if_contains("addr");
            if (addr && addr->is_string()) return std::move(line);
        }
        return std::nullopt;
    }

private:
    std::optional<std::uint16_t> find_listening_port() const {
        const auto line = ready_line();
        if (!line) return std::nullopt;
        const std::string_view a = line->at("addr").as_string();
        return static_cast<std::uint16_t>(std::stoi(std::string(a.substr(a.rfind(':') + 1))));
    }

    std::filesystem::path log_file_;
    pid_t pid_ = -1;
    std::optional<std::uint16_t> port_;
};

}  // namespace quorum::testing
