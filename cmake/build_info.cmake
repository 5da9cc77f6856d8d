# Writes build_info.h (from src/core/build_info.h.in) with the current git
# commit; the file is only replaced when its text changes.
execute_process(COMMAND git -C ${SRC} rev-parse HEAD
                OUTPUT_VARIABLE REPRO_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT REPRO_GIT_COMMIT)
  set(REPRO_GIT_COMMIT "unknown")
endif()
execute_process(COMMAND git -C ${SRC} status --porcelain --untracked-files=no
                OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(dirty)
  set(REPRO_GIT_COMMIT "${REPRO_GIT_COMMIT}-dirty")
endif()
configure_file(${SRC}/src/core/build_info.h.in ${OUT}.tmp @ONLY)
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
