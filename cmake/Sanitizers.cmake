# Sanitizers.cmake — FBUS_SANITIZER=address (ASan+UBSan) or thread (TSan),
# applied to everything we build so that tests and library agree.
if(FBUS_SANITIZER STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(FBUS_SANITIZER STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT FBUS_SANITIZER STREQUAL "none")
  message(FATAL_ERROR "FBUS_SANITIZER must be none, address or thread")
endif()
