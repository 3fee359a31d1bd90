#include "app/commands/log_tools.hpp"

#include "app/options.hpp"
#include "events/postgres_log.hpp"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/value_semantic.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace quorum::app {
namespace po = boost::program_options;

namespace {

/// Bytes of output gathered before one write to stdout.
constexpr std::size_t output_chunk = std::size_t{1} << 20;

}  // namespace

void add_log_options(po::options_description& d, const char* data_help, const char* store_help) {
    // clang-format off
    d.add_options()
        ("data", po::value<std::string>()->value_name("DIR"), data_help)
        ("store", po::value<std::string>()->value_name("URI"), store_help);
    // clang-format on
}

std::optional<parse_exit> log_location_of(const command_args& given, const env_lookup& env,
                                          log_location& out) {
    const auto data = given.text("data");
    const auto uri = given.text("store");
    if (data && uri) return given.usage("--data and --store exclude each other");
    std::string error;
    if (uri) {
        out.store = parse_store_uri(*uri, error);
        if (!out.store) return given.invalid("store", redacted_store_uri(*uri), error);
        return std::nullopt;
    }
    if (data) {
        if (data->empty()) return given.invalid("data", *data, "expected a directory");
        out.data_dir = *data;
        return std::nullopt;
    }
    if (auto e = env(std::string(store_env_var)); e && !e->empty()) {
        out.store = parse_store_uri(*e, error);
        if (!out.store) return given.usage("invalid " + std::string(store_env_var) + ": " + error);
        return std::nullopt;
    }
    return given.usage("--data DIR or --store URI is required");
}

std::optional<parse_exit> session_of(const command_args& given,
                                     std::optional<events::session_id>& out) {
    if (const auto v = given.text("session")) {
        out = events::session_id::parse(*v);
        if (!out) return given.invalid("session", *v, "expected a session id (a UUID)");
    }
    return std::nullopt;
}

events::log_reader open_reader(const log_location& log) {
    if (log.store) return events::open_postgres_log_reader(*log.store);
    return events::log_reader(log.data_dir);
}

int cannot_read(std::string_view command, std::string_view what) {
    std::fprintf(stderr, "quorum %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
                 static_cast<int>(what.size()), what.data());
    return exit_unreadable;
}

std::string with_commas(double v) {
    const auto n = static_cast<std::uint64_t>(std::llround(std::max(v, 0.0)));
    const std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

double seconds_since(steady::time_point t0) {
    return std::chrono::duration<double>(steady::now() - t0).count();
}

double per_second(std::uint64_t n, double seconds) {
    return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

void stdout_writer::maybe_flush() {
    if (buffer.size() >= output_chunk) flush();
}

void stdout_writer::flush() {
    if (!buffer.empty() && std::fwrite(buffer.data(), 1, buffer.size(), stdout) != buffer.size()) {
        failed_ = true;
    }
    buffer.clear();
}

bool stdout_writer::finish() {
    flush();
    if (std::fflush(stdout) != 0) failed_ = true;
    return !failed_;
}

void progress_line::update(std::uint64_t events, std::string_view what) {
    const auto now = steady::now();
    if (now - last_ < std::chrono::seconds{1}) return;
    last_ = now;
    std::fprintf(stderr, "%s: %s events %.*s (%s events/s)\n", command_.c_str(),
                 with_commas(static_cast<double>(events)).c_str(), static_cast<int>(what.size()),
                 what.data(), with_commas(per_second(events, seconds_since(start_))).c_str());
}

}  // namespace quorum::app
