// `quorum serve`: its options are options.hpp's (the application reads them); this runs it.
#include "app/application.hpp"
#include "app/commands/commands.hpp"
#include "app/options.hpp"

#include <utility>
#include <variant>

namespace quorum::app {

namespace {

int run_serve(const serve_options& options) {
    application app(options);
    return app.run();
}

int serve_main(std::span<const std::string> args) {
    return run_parsed(parse_serve(args, process_environment()), &run_serve);
}

}  // namespace

const command serve_command{"serve", "replay the event log, then serve the HTTP API", &serve_help,
                            &serve_main};

}  // namespace quorum::app
