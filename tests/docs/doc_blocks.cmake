# Reads the fenced code blocks of a Markdown file. Used at configure time by this folder's
# CMakeLists.txt (to turn every C++ block into a translation unit) and, through
# check_fences.cmake, by a test that every fence names its language.
#
# lifeguard_doc_blocks(<markdown file> <prefix>) sets, in the caller's scope:
#   <prefix>_count                    the number of blocks
#   <prefix>_<i>_lang                 the info string's first word ("" for a bare ```)
#   <prefix>_<i>_line                 the line of the block's first code line
#   <prefix>_<i>_text                 the code, each line ending in "\n"
#   <prefix>_<i>_marker               the text of a `<!-- docs-test: ... -->` comment on the line
#                                     right before the fence, "" if there is none
# The text is walked with string(FIND) and never split into a CMake list, so `;`, `[` and `]`
# in code stay as they are.
include_guard(GLOBAL)

function(lifeguard_doc_blocks markdown prefix)
    file(READ "${markdown}" rest)
    set(count 0)
    set(line_no 0)
    set(in_block FALSE)
    set(previous "")
    while(NOT rest STREQUAL "")
        string(FIND "${rest}" "\n" newline)
        if(newline EQUAL -1)
            set(line "${rest}")
            set(rest "")
        else()
            string(SUBSTRING "${rest}" 0 ${newline} line)
            math(EXPR after "${newline} + 1")
            string(SUBSTRING "${rest}" ${after} -1 rest)
        endif()
        math(EXPR line_no "${line_no} + 1")
        if(in_block)
            if(line MATCHES "^[ ]*```[ ]*$")
                set(in_block FALSE)
                set(${prefix}_${count}_text "${text}" PARENT_SCOPE)
            else()
                string(APPEND text "${line}\n")
            endif()
        elseif(line MATCHES "^[ ]*```[ ]*([^ ]*)")
            math(EXPR count "${count} + 1")
            set(in_block TRUE)
            set(text "")
            string(TOLOWER "${CMAKE_MATCH_1}" lang)
            math(EXPR first "${line_no} + 1")
            set(marker "")
            if(previous MATCHES "<!-- docs-test: (.*) -->")
                set(marker "${CMAKE_MATCH_1}")
            endif()
            set(${prefix}_${count}_lang "${lang}" PARENT_SCOPE)
            set(${prefix}_${count}_line "${first}" PARENT_SCOPE)
            set(${prefix}_${count}_marker "${marker}" PARENT_SCOPE)
        endif()
        set(previous "${line}")
    endwhile()
    if(in_block)
        message(FATAL_ERROR "${markdown}: the code block opened before line ${first} is never closed")
    endif()
    set(${prefix}_count ${count} PARENT_SCOPE)
endfunction()

# True (in <out>) for the info strings this project treats as C++.
function(lifeguard_doc_is_cpp lang out)
    if(lang MATCHES "^(cpp|c\\+\\+|cxx|cc|hpp)$")
        set(${out} TRUE PARENT_SCOPE)
    else()
        set(${out} FALSE PARENT_SCOPE)
    endif()
endfunction()

# The Markdown files whose C++ blocks are compiled: README.md and docs/*.md.
function(lifeguard_doc_files source_dir out)
    if(CMAKE_SCRIPT_MODE_FILE)
        file(GLOB docs "${source_dir}/docs/*.md")
    else()
        file(GLOB docs CONFIGURE_DEPENDS "${source_dir}/docs/*.md")  # a new doc reconfigures
    endif()
    list(SORT docs)
    set(${out} "${source_dir}/README.md" ${docs} PARENT_SCOPE)
endfunction()
