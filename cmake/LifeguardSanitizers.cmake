# LIFEGUARD_SANITIZE=thread builds everything under ThreadSanitizer; =address under
# AddressSanitizer + UndefinedBehaviorSanitizer. Applied globally so that header-only code
# instantiated in tests is instrumented too.
if(LIFEGUARD_SANITIZE STREQUAL "thread")
    add_compile_options(-fsanitize=thread -g -O1)
    add_link_options(-fsanitize=thread)
    # GCC 12 warns that TSan does not instrument atomic_thread_fence; our fences are paired
    # with seq_cst atomics that TSan does see.
    add_compile_options(-Wno-tsan)
elseif(LIFEGUARD_SANITIZE STREQUAL "address")
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1)
    add_link_options(-fsanitize=address,undefined)
elseif(NOT LIFEGUARD_SANITIZE STREQUAL "")
    message(FATAL_ERROR "LIFEGUARD_SANITIZE must be '', 'thread' or 'address', not '${LIFEGUARD_SANITIZE}'")
endif()
