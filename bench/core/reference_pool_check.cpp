// Runs the reference pool's stress check (reference_pool_check.hpp) with more rounds than the
// benchmark's own once-per-process check: exit status 0 when it passes, 1 (and why) otherwise.
#include <cstdio>
#include <string>

#include "reference_pool_check.hpp"

int main() {
    const std::string failure = lifeguard_bench::check_reference_pool_shapes(50000, 2000);
    if (!failure.empty()) {
        std::fprintf(stderr, "FAILED: %s\n", failure.c_str());
        return 1;
    }
    std::puts("reference_pool (both fence pairs): no connection lent twice, every lease counted, "
              "no borrower left parked");
    return 0;
}
