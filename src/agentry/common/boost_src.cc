// Boost.JSON and Boost.URL are compiled once, here, for the whole program.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
