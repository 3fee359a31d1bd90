// Runs the reference Standard Webhooks verifier (tests/webhooks/node/verify.mjs, the npm package
// `standardwebhooks`) on one request. Needs node and `npm ci --prefix tests/webhooks/node`.
#pragma once

#include "support/test_support.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <sys/wait.h>

namespace quorum::testing {

inline bool node_verifies(const std::string& secret, const std::string& id,
                          const std::string& timestamp, const std::string& signature,
                          const std::string& body) {
    const std::filesystem::path dir =
        std::filesystem::path(QUORUM_SOURCE_DIR) / "tests" / "webhooks" / "node";
    if (!std::filesystem::exists(dir / "node_modules" / "standardwebhooks")) {
        ADD_FAILURE() << "the reference verifier is not installed: run npm ci --prefix " << dir;
        return false;
    }
    temp_dir tmp;
    const auto file = tmp.path() / "request.json";
    {
        boost::json::object request;
        request["secret"] = secret;
        request["headers"] = boost::json::object{
            {"webhook-id", id}, {"webhook-timestamp", timestamp}, {"webhook-signature", signature}};
        request["body"] = body;
        std::ofstream out(file, std::ios::binary);
        out << boost::json::serialize(request);
    }
    const std::string command =
        "node '" + (dir / "verify.mjs").string() + "' '" + file.string() + "' > /dev/null 2>&1";
    const int status = std::system(command.c_str());
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace quorum::testing
