// The error a deadlock detector with policy fail_fast throws into one member of a knot, so that
// its unwinding returns its leases and the other members can go on. It is a pool_error (catch
// sites that handle pool failures keep working) whose code is errc::deadlock and whose
// diagnostics' detail is the report's text; the structured report rides along.
#pragma once

#include <memory>

#include "lifeguard/diagnostics/report.hpp"
#include "lifeguard/errors.hpp"

namespace lifeguard::diagnostics {

class deadlock_error : public pool_error {
public:
    /// `diagnostics` must have code errc::deadlock; `report` must not be null.
    deadlock_error(std::shared_ptr<const pool_diagnostics> diagnostics, std::shared_ptr<const diagnostics::report> report)
        : pool_error(std::move(diagnostics)), report_(std::move(report)) {}

    /// The knot this task was failed to break. Thread-safety: immutable, shareable.
    const diagnostics::report& report() const noexcept { return *report_; }
    std::shared_ptr<const diagnostics::report> shared_report() const noexcept { return report_; }

private:
    std::shared_ptr<const diagnostics::report> report_;
};

}  // namespace lifeguard::diagnostics
