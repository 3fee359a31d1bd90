// Boost.JSON and Boost.URL compiled into the fuzz targets, so that the coverage instrumentation
// reaches inside their parsers (Debian's shared libraries carry none). The targets' own
// definitions take precedence over the shared libraries' at link and load time.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
