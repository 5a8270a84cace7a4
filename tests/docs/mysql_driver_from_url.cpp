// Must NOT compile (docs.mysql_driver_from_a_url_string_fails_clearly): a URL alone names no
// user, and the error must say what to write instead.
#include "lifeguard/mysql.hpp"

lifeguard::mysql::driver from_url() { return lifeguard::mysql::driver{"tcp://127.0.0.1:3306"}; }
