#include "support/nginx.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#ifndef QUORUM_SOURCE_DIR
#error "QUORUM_SOURCE_DIR must name the source tree (scripts/nginx.sh)"
#endif

namespace quorum::test {

namespace {

std::string shell_quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

std::string configuration(std::uint16_t port, const std::vector<std::uint16_t>& upstreams) {
    std::ostringstream c;
    c << "worker_processes 1;\n"
         "events { worker_connections 1024; }\n"
         "http {\n"
         "  access_log access.log;\n"
         // nginx does not run as root: its temp files stay in the prefix.
         "  client_body_temp_path tmp/body;\n"
         "  proxy_temp_path tmp/proxy;\n"
         "  fastcgi_temp_path tmp/fastcgi;\n"
         "  uwsgi_temp_path tmp/uwsgi;\n"
         "  scgi_temp_path tmp/scgi;\n"
         // `Connection: upgrade` for a WebSocket handshake, none otherwise (keep-alive upstream).
         "  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }\n"
         "  upstream quorum {\n";
    for (auto u : upstreams) c << "    server 127.0.0.1:" << u << ";\n";
    c << "    keepalive 16;\n"
         "  }\n"
         "  server {\n"
         "    listen 127.0.0.1:"
      << port
      << ";\n"
         "    client_max_body_size 0;\n"
         "    location / {\n"
         "      proxy_pass http://quorum;\n"
         "      proxy_http_version 1.1;\n"
         "      proxy_set_header Host $http_host;\n"
         "      proxy_set_header Upgrade $http_upgrade;\n"
         "      proxy_set_header Connection $connection_upgrade;\n"
         "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
         "      proxy_buffering off;\n"
         "      proxy_request_buffering off;\n"
         "      proxy_read_timeout 1h;\n"
         "      proxy_send_timeout 1h;\n"
         "    }\n"
         "  }\n"
         "}\n";
    return c.str();
}

int run_script(const std::string& args) {
    const std::string command =
        "bash " + shell_quoted(std::string{QUORUM_SOURCE_DIR} + "/scripts/nginx.sh") + " " + args;
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

nginx_proxy::nginx_proxy(std::vector<std::uint16_t> upstream_ports) {
    if (upstream_ports.empty()) throw std::runtime_error("nginx_proxy: no upstream ports");
    std::filesystem::create_directories(dir() / "tmp");
    const auto conf = dir() / "nginx.conf";
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = testing::free_port();
        std::ofstream(conf, std::ios::trunc) << configuration(port_, upstream_ports);
        if (run_script("start " + shell_quoted(dir().string()) + " " +
                       shell_quoted(conf.string())) == 0) {
            running_ = true;
            return;
        }
    }
    throw std::runtime_error("nginx did not start (see " + (dir() / "error.log").string() + ")");
}

nginx_proxy::~nginx_proxy() { stop(); }

void nginx_proxy::stop() {
    if (!running_) return;
    running_ = false;
    if (run_script("stop " + shell_quoted(dir().string())) != 0) {
        ADD_FAILURE() << "scripts/nginx.sh stop " << dir() << " failed";
    }
}

}  // namespace quorum::test
