#include "events/error.hpp"

#include <string>

namespace quorum::events {
namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories are
// static objects, never deleted through a base pointer); -Wnon-virtual-dtor and clang-tidy flag
// every class derived from it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final  // NOLINT(cppcoreguidelines-virtual-class-destructor)
    : public boost::system::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "quorum.events"; }

    [[nodiscard]] std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::version_conflict: return "the session is not at the expected version";
            case errc::store_failed: return "the event store could not complete the operation";
            case errc::corrupt_event: return "a stored event is corrupt";
            case errc::closed: return "the event store is stopped";
            case errc::invalid_data:
                return "the event data holds a number JSON cannot represent (infinity or NaN)";
        }
        return "unknown events error " + std::to_string(ev);
    }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& events_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace quorum::events
