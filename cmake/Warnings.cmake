# Warnings.cmake — the warning set every target of ours gets; -Werror in CI.
include(CheckCCompilerFlag)
set(FBUS_C_WARNINGS -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes
    -Werror=implicit-function-declaration -Werror=incompatible-pointer-types
    -Werror=format -Werror=return-type)
set(FBUS_CXX_WARNINGS -Wall -Wextra)
if(FBUS_WERROR)
  list(APPEND FBUS_C_WARNINGS -Werror)
  list(APPEND FBUS_CXX_WARNINGS -Werror)
endif()

# fbus_target_warnings(target): apply our warnings to a target's own sources.
function(fbus_target_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:${FBUS_C_WARNINGS}>
    $<$<COMPILE_LANGUAGE:CXX>:${FBUS_CXX_WARNINGS}>)
endfunction()
