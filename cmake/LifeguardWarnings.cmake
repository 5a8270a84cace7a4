# Warning flags for lifeguard's own targets (never forced on consumers).
function(lifeguard_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                             -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                             -Wnull-dereference -Wimplicit-fallthrough)
endfunction()
