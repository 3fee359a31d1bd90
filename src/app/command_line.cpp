#include "app/command_line.hpp"

#include <boost/program_options/errors.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <boost/program_options/variables_map.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <utility>

namespace quorum::app {
namespace po = boost::program_options;

namespace {

/// The name under which the words are collected (not an option anyone can type: it has no --).
constexpr const char* words_option = "positional";

po::options_description describe(const command_syntax& syntax) {
    po::options_description d;
    d.add_options()("help,h", "show this help and exit");
    if (syntax.options != nullptr) syntax.options(d);
    return d;
}

std::atomic<int> signal_received{0};

extern "C" void on_interrupt(int signo) { signal_received.store(signo); }

}  // namespace

int print_exit(const parse_exit& e) {
    std::fputs(e.text.c_str(), e.code == exit_ok ? stdout : stderr);
    return e.code;
}

env_lookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name.c_str())) return std::string(v);
        return std::nullopt;
    };
}

std::optional<std::string> command_args::text(const std::string& name) const {
    const auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

parse_exit command_args::usage(std::string_view message) const {
    return usage_error(command_, message);
}

parse_exit command_args::invalid(std::string_view option, std::string_view value,
                                 std::string_view expected) const {
    return usage("invalid value '" + std::string(value) + "' for --" + std::string(option) + ": " +
                 std::string(expected));
}

parse_outcome<command_args> parse_command_line(const command_syntax& syntax,
                                               std::span<const std::string> args) {
    po::options_description all = describe(syntax);
    all.add_options()(words_option, po::value<std::vector<std::string>>(), "");
    po::positional_options_description positional;
    positional.add(words_option, -1);
    po::variables_map vm;
    try {
        const std::vector<std::string> tokens(args.begin(), args.end());
        po::store(po::command_line_parser(tokens)
                      .options(all)
                      .positional(positional)
                      .style(po::command_line_style::default_style &
                             ~po::command_line_style::allow_guessing)
                      .run(),
                  vm);
    } catch (const po::error& e) {
        // The library reports usage errors by throwing; here they become a value.
        return usage_error(syntax.name, e.what());
    }
    if (vm.count("help")) return parse_exit{exit_ok, command_help(syntax)};

    command_args out(syntax.name);
    for (const auto& [name, value] : vm) {
        if (name == words_option) {
            out.words_ = value.as<std::vector<std::string>>();
        } else if (const auto* text = boost::any_cast<std::string>(&value.value())) {
            out.values_.emplace(name, *text);
        } else {
            out.values_.emplace(name, std::string());  // a flag
        }
    }
    if (out.words_.size() > syntax.max_words) {
        return usage_error(syntax.name,
                           "unexpected argument '" + out.words_[syntax.max_words] + "'");
    }
    return out;
}

std::string command_help(const command_syntax& syntax) {
    const auto d = describe(syntax);
    std::vector<std::pair<std::string, std::string>> rows;
    std::size_t width = 0;
    for (const auto& opt : d.options()) {
        std::string left = "--" + opt->long_name();
        if (const auto param = opt->format_parameter(); !param.empty()) left += " " + param;
        width = std::max(width, left.size());
        rows.emplace_back(std::move(left), opt->description());
    }
    std::string out(syntax.usage);
    out += "\nOptions:\n";
    for (const auto& [left, text] : rows) {
        out += "  ";
        out += left;
        out.append(width + 2 - left.size(), ' ');
        out += text;
        out += '\n';
    }
    return out;
}

parse_exit usage_error(std::string_view command, std::string_view message) {
    std::string text = "quorum " + std::string(command) + ": " + std::string(message) + "\n";
    text += "Try 'quorum " + std::string(command) + " --help' for the list of options.\n";
    return {exit_usage, std::move(text)};
}

std::optional<double> parse_positive_number(std::string_view text) {
    double v = 0;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || p != end || !std::isfinite(v) || v <= 0) return std::nullopt;
    return v;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
    std::uint64_t v = 0;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || p != end || text.empty()) return std::nullopt;
    return v;
}

interrupt_guard::interrupt_guard() {
    signal_received.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
}

interrupt_guard::~interrupt_guard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
}

int interrupt_guard::signal_seen() noexcept { return signal_received.load(); }

}  // namespace quorum::app
